//! Spans: start them, annotate them, end them.
//!
//! Spans live in the host, so a plugin that traps loses nothing it already
//! recorded. A span is held through a [`SpanGuard`]: dropping the guard ends
//! the span. Starting a span and ending it are the only two host calls a span
//! costs; its initial attributes travel with the start call. In an unsampled
//! trace a span costs no host call at all (see [`SpanGuard::is_recording`]).
//!
//! By default a span is *active*: while it is open it is the plugin's current
//! span, so spans started inside it nest under it and the free functions
//! [`add_attributes`], [`record_event`] and [`current_span_context`] apply to
//! it.
//!
//! ```ignore
//! use wasmtrace_sdk::{attrs, span};
//!
//! let parent = span::start("load_config", attrs! { "config.source" => "env" });
//! {
//!     let _child = span::start("parse", attrs! {}); // nested under `load_config`
//!     span::add_attributes(attrs! { "config.keys" => 12 }); // on `parse`
//! } // `parse` ends here
//! parent.add_event("config_loaded", attrs! {});
//! drop(parent); // `load_config` ends here
//! ```
//!
//! (Examples marked `ignore` need the host: they run in the example plugins.)

use std::any::type_name;
use std::borrow::Cow;
use std::fmt::{self, Display};

use crate::current::{self, Known, REFUSED};
use crate::propagation::Context;
use crate::value::{Attributes, KeyValue, StrArrays, Value, with_wit, with_wit_slice};
use crate::wit::wasmtrace::telemetry::propagation as wit_propagation;
use crate::wit::wasmtrace::telemetry::tracing as wit;
use crate::wit::wasmtrace::telemetry::types::{
    SpanContextParam, SpanContextResult as WitSpanContext, TraceFlags as WitTraceFlags,
};

/// What a span describes, as OpenTelemetry's `SpanKind`.
///
/// ```
/// use wasmtrace_sdk::SpanKind;
/// assert_eq!(SpanKind::default(), SpanKind::Internal);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    /// An internal operation (the default).
    #[default]
    Internal,
    /// The server side of a synchronous remote call.
    Server,
    /// The client side of a synchronous remote call.
    Client,
    /// The sender of an asynchronous message.
    Producer,
    /// The receiver of an asynchronous message.
    Consumer,
}

impl From<SpanKind> for wit::SpanKind {
    #[inline]
    fn from(kind: SpanKind) -> Self {
        match kind {
            SpanKind::Internal => Self::Internal,
            SpanKind::Server => Self::Server,
            SpanKind::Client => Self::Client,
            SpanKind::Producer => Self::Producer,
            SpanKind::Consumer => Self::Consumer,
        }
    }
}

/// A span's status, as OpenTelemetry's `Status`: `Ok` is final, `Unset`
/// changes nothing, and a later `Error` replaces an earlier one.
/// Instrumentation usually leaves successful spans `Unset` and only reports
/// errors.
///
/// ```
/// use wasmtrace_sdk::Status;
///
/// assert_eq!(Status::default(), Status::Unset);
/// let err = std::io::Error::other("disk full");
/// assert_eq!(Status::error(&err), Status::Error("disk full".to_owned()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Status {
    /// Nothing was said (the default).
    #[default]
    Unset,
    /// The operation was explicitly marked successful.
    Ok,
    /// The operation failed; the string describes why.
    Error(String),
}

impl Status {
    /// An `Error` status with a description.
    pub fn error(description: impl Display) -> Self {
        Status::Error(description.to_string())
    }
}

impl<'a> From<&'a Status> for wit::Status<'a> {
    #[inline]
    fn from(status: &'a Status) -> Self {
        match status {
            Status::Unset => Self::Unset,
            Status::Ok => Self::Ok,
            Status::Error(message) => Self::Error(message),
        }
    }
}

/// The identity of a span, per W3C Trace Context: what you put in logs, in
/// outgoing headers or in a [`Link`].
///
/// Ids are lowercase hex: 32 digits for the trace id, 16 for the span id. An
/// invalid context (no span) has all-zero ids; see [`is_valid`](Self::is_valid).
///
/// ```
/// use wasmtrace_sdk::SpanContext;
///
/// let cx = SpanContext::from_traceparent(
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
/// )
/// .unwrap();
/// assert_eq!(cx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(cx.is_valid() && cx.is_sampled() && cx.is_remote());
/// assert_eq!(cx.traceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpanContext {
    trace_id: String,
    span_id: String,
    trace_flags: u8,
    trace_state: String,
    is_remote: bool,
}

impl SpanContext {
    /// The W3C `sampled` trace flag (bit 0).
    pub const SAMPLED: u8 = 0x01;
    /// The W3C `random` trace flag (bit 1, Trace Context Level 2): the
    /// trace id was generated at random.
    pub const RANDOM: u8 = 0x02;

    /// A span context with the given ids (lowercase hex), no trace flags, an
    /// empty trace state, and not remote.
    ///
    /// ```
    /// use wasmtrace_sdk::SpanContext;
    ///
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    /// assert!(cx.is_valid() && !cx.is_sampled() && !cx.is_remote());
    /// assert_eq!((cx.trace_flags(), cx.trace_state()), (0, ""));
    /// let cx = cx.with_trace_flags(SpanContext::SAMPLED).with_trace_state("k=v").with_remote(true);
    /// assert!(cx.is_sampled() && cx.is_remote());
    /// assert_eq!(cx.trace_state(), "k=v");
    /// ```
    pub fn new(trace_id: impl Into<String>, span_id: impl Into<String>) -> Self {
        Self {
            trace_id: trace_id.into(),
            span_id: span_id.into(),
            trace_flags: 0,
            trace_state: String::new(),
            is_remote: false,
        }
    }

    /// The invalid span context: all-zero ids, as the host reports when there
    /// is no span.
    ///
    /// ```
    /// assert!(!wasmtrace_sdk::SpanContext::invalid().is_valid());
    /// ```
    #[must_use]
    pub fn invalid() -> Self {
        Self::new("0".repeat(32), "0".repeat(16))
    }

    /// Parses a W3C `traceparent` header value
    /// (`version-traceid-spanid-flags`). The result is marked remote. Returns
    /// `None` when the value is malformed or its ids are all zero.
    ///
    /// ```
    /// use wasmtrace_sdk::SpanContext;
    ///
    /// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    /// let cx = SpanContext::from_traceparent(header).unwrap();
    /// assert_eq!(cx.span_id(), "00f067aa0ba902b7");
    /// assert!(!cx.is_sampled());
    /// assert_eq!(SpanContext::from_traceparent("garbage"), None);
    /// ```
    #[must_use]
    pub fn from_traceparent(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let version = parts.next()?;
        let trace_id = parts.next()?;
        let span_id = parts.next()?;
        let flags = parts.next()?;
        // Version 00 has exactly four fields; later versions may append more.
        if version == "00" && parts.next().is_some() {
            return None;
        }
        let lower_hex = |s: &str, len: usize| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !lower_hex(version, 2)
            || version == "ff"
            || !lower_hex(trace_id, 32)
            || !lower_hex(span_id, 16)
            || !lower_hex(flags, 2)
        {
            return None;
        }
        let cx = Self {
            trace_id: trace_id.to_owned(),
            span_id: span_id.to_owned(),
            // Only the bits W3C defines (sampled, random) are kept.
            trace_flags: u8::from_str_radix(flags, 16).ok()? & (Self::SAMPLED | Self::RANDOM),
            trace_state: String::new(),
            is_remote: true,
        };
        cx.is_valid().then_some(cx)
    }

    /// Replaces the trace flags.
    #[must_use]
    pub fn with_trace_flags(mut self, trace_flags: u8) -> Self {
        self.trace_flags = trace_flags;
        self
    }

    /// Replaces the W3C `tracestate` value.
    #[must_use]
    pub fn with_trace_state(mut self, trace_state: impl Into<String>) -> Self {
        self.trace_state = trace_state.into();
        self
    }

    /// Marks the context as coming from another process (or not).
    #[must_use]
    pub fn with_remote(mut self, is_remote: bool) -> Self {
        self.is_remote = is_remote;
        self
    }

    /// The trace id: 32 lowercase hex digits.
    #[must_use]
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The span id: 16 lowercase hex digits.
    #[must_use]
    pub fn span_id(&self) -> &str {
        &self.span_id
    }

    /// The W3C trace flags: [`SAMPLED`](Self::SAMPLED), [`RANDOM`](Self::RANDOM).
    #[must_use]
    pub fn trace_flags(&self) -> u8 {
        self.trace_flags
    }

    /// The W3C `tracestate` value (may be empty).
    #[must_use]
    pub fn trace_state(&self) -> &str {
        &self.trace_state
    }

    /// Whether this context came from another process.
    #[must_use]
    pub fn is_remote(&self) -> bool {
        self.is_remote
    }

    /// Whether the trace is sampled (trace flags bit 0).
    #[must_use]
    pub fn is_sampled(&self) -> bool {
        self.trace_flags & Self::SAMPLED != 0
    }

    /// Whether this identifies a span: both ids are present and not all
    /// zero.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        let non_zero = |id: &str| !id.is_empty() && id.bytes().any(|b| b != b'0');
        non_zero(&self.trace_id) && non_zero(&self.span_id)
    }

    /// Formats this context as a W3C `traceparent` header value (version
    /// `00`).
    #[must_use]
    pub fn traceparent(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SpanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.span_id, self.trace_flags
        )
    }
}

impl From<WitSpanContext> for SpanContext {
    #[inline]
    fn from(cx: WitSpanContext) -> Self {
        let mut trace_flags = 0;
        if cx.trace_flags.contains(WitTraceFlags::SAMPLED) {
            trace_flags |= Self::SAMPLED;
        }
        if cx.trace_flags.contains(WitTraceFlags::RANDOM) {
            trace_flags |= Self::RANDOM;
        }
        Self {
            trace_id: cx.trace_id,
            span_id: cx.span_id,
            trace_flags,
            trace_state: cx.trace_state,
            is_remote: cx.is_remote,
        }
    }
}

fn wit_flags(flags: u8) -> WitTraceFlags {
    let mut out = WitTraceFlags::empty();
    if flags & SpanContext::SAMPLED != 0 {
        out |= WitTraceFlags::SAMPLED;
    }
    if flags & SpanContext::RANDOM != 0 {
        out |= WitTraceFlags::RANDOM;
    }
    out
}

/// A link from a new span to another span, possibly in another trace (for
/// example the messages of a batch), with attributes of its own.
///
/// ```
/// use wasmtrace_sdk::{attrs, Link, SpanContext};
///
/// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
/// let link = Link::new(cx.clone(), attrs! { "messaging.message.id" => "m-1" });
/// assert_eq!(link.attributes[0].key, "messaging.message.id");
/// let bare = Link::from(cx);
/// assert!(bare.attributes.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The linked span. The host drops a link whose ids are not valid hex.
    pub span_context: SpanContext,
    /// Attributes describing the link.
    pub attributes: Vec<KeyValue>,
}

impl Link {
    /// A link to `span_context` with attributes.
    pub fn new(span_context: SpanContext, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        Self {
            span_context,
            attributes: attributes.into_iter().collect(),
        }
    }
}

impl From<SpanContext> for Link {
    #[inline]
    fn from(span_context: SpanContext) -> Self {
        Self {
            span_context,
            attributes: Vec::new(),
        }
    }
}

/// Configures a span before starting it: kind, attributes, links, parent and
/// whether it becomes the current span. Create one with [`Span::builder`].
///
/// Everything is sent to the host in the single start call, so attributes
/// given here are also seen by the host's sampler.
///
/// ```ignore
/// use wasmtrace_sdk::{attrs, Context, PropagatedContext, Span, SpanKind};
///
/// let incoming: PropagatedContext =
///     [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
///         .into_iter()
///         .collect();
/// let remote = Context::extract(&incoming);
/// let span = Span::builder("orders process")
///     .kind(SpanKind::Consumer)
///     .attributes(attrs! { "messaging.batch.message_count" => 3 })
///     .parent(&remote)
///     .start();
/// span.add_event("acked", []);
/// ```
#[derive(Debug)]
#[must_use = "a span builder does nothing until `.start()` is called"]
pub struct SpanBuilder<'a> {
    name: Cow<'a, str>,
    kind: SpanKind,
    // Inline: a span skipped in an unsampled trace then allocates nothing.
    attributes: Attributes,
    links: Vec<Link>,
    parent: ParentRef<'a>,
    activate: bool,
}

/// What a [`SpanBuilder`] was told to use as parent.
#[derive(Debug, Clone, Copy)]
enum ParentRef<'a> {
    /// The context current when the builder was made, with what was known
    /// of its sampling then.
    Current(u32, Known),
    Context(&'a Context),
    Span(&'a SpanGuard),
}

impl<'a> SpanBuilder<'a> {
    /// A builder for a span called `name`: internal, no attributes or links,
    /// child of the span current now, activated. Same as [`Span::builder`].
    pub fn new(name: impl Into<Cow<'a, str>>) -> Self {
        let (handle, known) = current::top();
        Self {
            name: name.into(),
            kind: SpanKind::Internal,
            attributes: Attributes::new(),
            links: Vec::new(),
            parent: ParentRef::Current(handle, known),
            activate: true,
        }
    }

    /// Whether the span is already known to be skipped (a child of a local
    /// unsampled span): then what it is given is dropped unread.
    fn skips(&self) -> bool {
        matches!(self.parent, ParentRef::Current(_, Known::Skip))
            || matches!(self.parent, ParentRef::Span(span) if span.handle.is_none())
    }

    /// Sets the span's kind (default [`SpanKind::Internal`]).
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds initial attributes (may be called repeatedly).
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        if !self.skips() {
            self.attributes.extend(attributes);
        }
        self
    }

    /// Adds one initial attribute.
    pub fn attribute(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        if !self.skips() {
            self.attributes.push(KeyValue::new(key, value));
        }
        self
    }

    /// Adds a link to another span: a [`Link`] (with attributes, see
    /// [`Link::new`]) or a bare [`SpanContext`].
    pub fn link(mut self, link: impl Into<Link>) -> Self {
        if !self.skips() {
            self.links.push(link.into());
        }
        self
    }

    /// Adds several links.
    pub fn links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        if !self.skips() {
            self.links.extend(links);
        }
        self
    }

    /// Makes the span a child of the span in `parent` (for example a
    /// context extracted from incoming headers) instead of the current span.
    /// An empty context ([`Context::empty`]) starts a new trace.
    pub fn parent(mut self, parent: &'a Context) -> Self {
        self.parent = ParentRef::Context(parent);
        self
    }

    /// Makes the span a child of `parent`, whether or not that span is the
    /// current one.
    pub fn child_of(mut self, parent: &'a SpanGuard) -> Self {
        self.parent = ParentRef::Span(parent);
        self
    }

    /// Whether the span becomes the current span while it is open (default
    /// `true`). An inactive span still records; spans started while it is
    /// open just do not nest under it.
    pub fn activate(mut self, activate: bool) -> Self {
        self.activate = activate;
        self
    }

    /// Starts the span; it ends when the returned guard is dropped.
    pub fn start(self) -> SpanGuard {
        start_span(
            &self.name,
            self.kind,
            &self.attributes,
            &self.links,
            self.parent,
            self.activate,
        )
    }

    /// Starts the span, runs `f` with it, and ends it.
    pub fn in_span<R>(self, f: impl FnOnce(&SpanGuard) -> R) -> R {
        let span = self.start();
        f(&span)
    }
}

/// A span in progress. It ends when dropped (or [`end`](Self::end)ed).
///
/// A guard of a span skipped in an unsampled trace, or refused by the
/// host's limits, does nothing: [`is_recording`](Self::is_recording) is
/// false and its methods make no host call.
#[derive(Debug)]
#[must_use = "a span ends as soon as its guard is dropped"]
pub struct SpanGuard {
    handle: Option<u32>,
    entry: Option<u64>,
}

/// A span; the guard type is the span (the guide's `Span`).
pub type Span = SpanGuard;

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if let Some(id) = self.entry.take() {
            current::pop(id);
        }
        if let Some(handle) = self.handle.take() {
            wit::end(handle);
        }
    }
}

fn start_span(
    name: &str,
    kind: SpanKind,
    attributes: &[KeyValue],
    links: &[Link],
    parent: ParentRef<'_>,
    activate: bool,
) -> SpanGuard {
    let (parent, known) = match parent {
        ParentRef::Current(handle, known) => match current::sampling(handle, known) {
            Known::Skip => return SpanGuard::skipped(),
            Known::Sampled => (handle, Known::Sampled),
            _ => (handle, Known::Unknown),
        },
        ParentRef::Context(cx) => (cx.handle(), Known::Unknown),
        // A child of a skipped span is unsampled too.
        ParentRef::Span(span) => match span.handle {
            Some(handle) => (handle, Known::Unknown),
            None => return SpanGuard::skipped(),
        },
    };
    let handle = if links.is_empty() {
        with_wit_slice(attributes, |attributes| {
            wit::start(parent, name, kind.into(), attributes, &[], activate)
        })
    } else {
        // The links borrow their attribute lists, lowered first.
        let arrays: Vec<StrArrays<'_>> =
            links.iter().map(|l| StrArrays::of(&l.attributes)).collect();
        let link_attributes: Vec<_> = links
            .iter()
            .zip(&arrays)
            .map(|(l, arrays)| arrays.lower(&l.attributes))
            .collect();
        let wit_links: Vec<wit::Link<'_>> = links
            .iter()
            .zip(&link_attributes)
            .map(|(l, attributes)| wit::Link {
                span_context: SpanContextParam {
                    trace_id: &l.span_context.trace_id,
                    span_id: &l.span_context.span_id,
                    trace_flags: wit_flags(l.span_context.trace_flags),
                    trace_state: &l.span_context.trace_state,
                    is_remote: l.span_context.is_remote,
                },
                attributes,
            })
            .collect();
        with_wit_slice(attributes, |attributes| {
            wit::start(parent, name, kind.into(), attributes, &wit_links, activate)
        })
    };
    if handle == REFUSED {
        return SpanGuard::skipped();
    }
    SpanGuard {
        handle: Some(handle),
        entry: activate.then(|| current::push(handle, known)),
    }
}

impl SpanGuard {
    /// A builder for a span called `name` (see [`SpanBuilder`]).
    pub fn builder<'a>(name: impl Into<Cow<'a, str>>) -> SpanBuilder<'a> {
        SpanBuilder::new(name)
    }

    /// Sets one attribute; a later value for the same key replaces an
    /// earlier one.
    pub fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        if let Some(handle) = self.handle {
            with_wit_slice(&[KeyValue::new(key, value)], |attributes| {
                wit::set_attributes(handle, attributes);
            });
        }
    }

    /// Sets attributes.
    pub fn set_attributes(&self, attributes: impl IntoIterator<Item = KeyValue>) {
        if let Some(handle) = self.handle {
            with_wit(attributes, |attributes| {
                wit::set_attributes(handle, attributes)
            });
        }
    }

    /// Adds an event at the current time.
    pub fn add_event(&self, name: &str, attributes: impl IntoIterator<Item = KeyValue>) {
        if let Some(handle) = self.handle {
            with_wit(attributes, |attributes| {
                wit::add_event(handle, name, attributes)
            });
        }
    }

    /// Sets the status (see [`Status`]).
    pub fn set_status(&self, status: Status) {
        if let Some(handle) = self.handle {
            wit::set_status(handle, (&status).into());
        }
    }

    /// Sets status Error with `error`'s message.
    pub fn set_error(&self, error: impl Display) {
        self.set_status(Status::error(error));
    }

    /// Records `error` as an `exception` event (semantic conventions); the
    /// status is left alone.
    pub fn record_error<E: Display + ?Sized>(&self, error: &E) {
        if let Some(handle) = self.handle {
            wit::record_exception(handle, exception_type::<E>(), &error.to_string(), None);
        }
    }

    /// On `Err`: records the error as an `exception` event and sets status
    /// Error with its message. `Ok` changes nothing.
    pub fn record_result<T, E: Display>(&self, result: &Result<T, E>) {
        if let (Err(error), Some(handle)) = (result, self.handle) {
            let message = error.to_string();
            wit::record_exception(handle, exception_type::<E>(), &message, None);
            wit::set_status(handle, wit::Status::Error(&message));
        }
    }

    /// Renames the span.
    pub fn update_name(&self, name: &str) {
        if let Some(handle) = self.handle {
            wit::update_name(handle, name);
        }
    }

    /// The span's identity (for logs, headers or links). For a skipped span,
    /// the current span's.
    #[must_use]
    pub fn span_context(&self) -> SpanContext {
        match self.handle {
            Some(handle) => wit_propagation::span_context_of(handle).into(),
            None => current_span_context(),
        }
    }

    /// Whether the span records: false when skipped in an unsampled trace,
    /// refused by a limit, or ended. Skip expensive attributes then.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.handle.is_some_and(wit::is_recording)
    }

    /// The span as a [`Context`], e.g. to parent work started after it
    /// ends. Its handle outlives the span.
    #[must_use]
    pub fn context(&self) -> Context {
        match self.handle {
            Some(handle) => Context::borrowed(handle),
            None => Context::current(),
        }
    }

    fn skipped() -> Self {
        Self {
            handle: None,
            entry: None,
        }
    }

    /// Ends the span now (dropping the guard does the same).
    pub fn end(self) {
        drop(self);
    }
}

/// The `exception.type` of an error of type `E`: its path
/// (`core::num::error::ParseIntError`), or none (`""`) for an error that is
/// only a message (`&str`, `String`), whose type says nothing.
pub(crate) fn exception_type<E: ?Sized>() -> &'static str {
    let name = type_name::<E>().trim_start_matches('&');
    match name {
        "str"
        | "alloc::string::String"
        | "alloc::borrow::Cow<'_, str>"
        | "alloc::boxed::Box<str>" => "",
        name if name.starts_with("alloc::borrow::Cow<") && name.ends_with("str>") => "",
        name => name,
    }
}

/// Starts an active span with `attributes` under the current span; it ends
/// when the guard is dropped.
pub fn start(name: &str, attributes: impl IntoIterator<Item = KeyValue>) -> SpanGuard {
    SpanBuilder::new(name).attributes(attributes).start()
}

/// Runs `f` inside a new active span (the guide's `with_span`) and returns
/// its value. The span's status is left alone; for a `Result` whose `Err`
/// should mark the span, use [`try_with_span`].
pub fn with_span<R>(
    name: &str,
    attributes: impl IntoIterator<Item = KeyValue>,
    f: impl FnOnce() -> R,
) -> R {
    let _span = start(name, attributes);
    f()
}

/// Like [`with_span`] for a `Result`: on `Err` the span gets status Error
/// and an `exception` event.
pub fn try_with_span<T, E: Display>(
    name: &str,
    attributes: impl IntoIterator<Item = KeyValue>,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let span = start(name, attributes);
    let result = f();
    span.record_result(&result);
    result
}

/// Adds attributes to the current span (the guide's `add_attributes`); a
/// no-op when there is none of this plugin's, or in an unsampled trace.
pub fn add_attributes(attributes: impl IntoIterator<Item = KeyValue>) {
    if !current::is_skipping() {
        let handle = current::handle();
        with_wit(attributes, |attributes| {
            wit::set_attributes(handle, attributes)
        });
    }
}

/// Adds an event to the current span (the guide's `record_event`).
pub fn record_event(name: &str, attributes: impl IntoIterator<Item = KeyValue>) {
    if !current::is_skipping() {
        let handle = current::handle();
        with_wit(attributes, |attributes| {
            wit::add_event(handle, name, attributes)
        });
    }
}

/// The current span's identity: this plugin's innermost active span, or
/// the invocation's span.
#[must_use]
pub fn current_span_context() -> SpanContext {
    wit_propagation::span_context_of(current::handle()).into()
}

/// The current trace's id (32 lowercase hex digits), `None` outside any
/// trace.
#[must_use]
pub fn current_trace_id() -> Option<String> {
    let cx = current_span_context();
    cx.is_valid().then_some(cx.trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn exception_type_names_the_error_type_and_not_a_bare_message() {
        assert_eq!(
            exception_type::<std::num::ParseIntError>(),
            "core::num::error::ParseIntError"
        );
        assert_eq!(exception_type::<&str>(), "");
        assert_eq!(exception_type::<String>(), "");
        assert_eq!(exception_type::<std::borrow::Cow<'static, str>>(), "");
        assert_eq!(exception_type::<Box<str>>(), "");
    }

    #[test]
    fn traceparent_round_trip() {
        let cx = SpanContext::from_traceparent(TP).unwrap();
        assert_eq!(cx.traceparent(), TP);
        assert_eq!(cx.to_string(), TP);
        assert!(cx.is_remote());
        let random = SpanContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
        )
        .unwrap();
        assert_eq!(
            random.trace_flags(),
            SpanContext::SAMPLED | SpanContext::RANDOM
        );
    }

    #[test]
    fn traceparent_rejects_malformed() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(SpanContext::from_traceparent(bad), None, "{bad}");
        }
        // Future versions may carry extra fields.
        assert!(
            SpanContext::from_traceparent(
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"
            )
            .is_some()
        );
    }

    #[test]
    fn flags_convert_both_ways() {
        let flags = wit_flags(SpanContext::SAMPLED | SpanContext::RANDOM);
        assert!(flags.contains(WitTraceFlags::SAMPLED) && flags.contains(WitTraceFlags::RANDOM));
        assert_eq!(wit_flags(0), WitTraceFlags::empty());
    }
}
