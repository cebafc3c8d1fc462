//! Spans: start them, annotate them, end them.
//!
//! Spans live in the host, so a plugin that traps loses nothing it already
//! recorded. A span is held through a [`SpanGuard`]: dropping the guard ends
//! the span. Starting a span and ending it are the only two host calls a span
//! costs; its initial attributes travel with the start call. In an unsampled
//! trace a span costs no host call at all (see
//! [`SpanGuard::is_recording`]).
//!
//! By default a span is *active*: while it is open it is the plugin's current
//! span, so spans started inside it nest under it and the free functions
//! [`add_attributes`], [`record_event`] and [`current_span_context`] apply to
//! it.
//!
//! ```no_run
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

use std::any::type_name;
use std::borrow::Cow;
use std::fmt::{self, Display};

use crate::propagation::Context;
use crate::sampling::{self, Known};
use crate::value::{KeyValue, StrArrays, Value, with_wit, with_wit_slice};
use crate::wit::wasmtrace::tracing::tracing as wit_tracing;
use crate::wit::wasmtrace::tracing::types as wit_types;

/// What a span describes, as OpenTelemetry's `SpanKind`.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{Span, SpanKind};
///
/// let _span = Span::builder("GET /users").kind(SpanKind::Server).start();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    /// An internal operation (the default).
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanKind;
    /// assert_eq!(SpanKind::default(), SpanKind::Internal);
    /// ```
    #[default]
    Internal,
    /// The server side of a synchronous remote call.
    ///
    /// ```no_run
    /// # use wasmtrace_sdk::{Span, SpanKind};
    /// let _span = Span::builder("handle").kind(SpanKind::Server).start();
    /// ```
    Server,
    /// The client side of a synchronous remote call.
    ///
    /// ```no_run
    /// # use wasmtrace_sdk::{Span, SpanKind};
    /// let _span = Span::builder("GET").kind(SpanKind::Client).start();
    /// ```
    Client,
    /// The sender of an asynchronous message.
    ///
    /// ```no_run
    /// # use wasmtrace_sdk::{Span, SpanKind};
    /// let _span = Span::builder("orders publish").kind(SpanKind::Producer).start();
    /// ```
    Producer,
    /// The receiver of an asynchronous message.
    ///
    /// ```no_run
    /// # use wasmtrace_sdk::{Span, SpanKind};
    /// let _span = Span::builder("orders process").kind(SpanKind::Consumer).start();
    /// ```
    Consumer,
}

impl From<SpanKind> for wit_types::SpanKind {
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

/// A span's status, as OpenTelemetry's `Status`.
///
/// `Error` and `Ok` are final; `Unset` never overrides them. Instrumentation
/// usually leaves successful spans `Unset` and only reports errors.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{span, Status};
///
/// let span = span::start("charge_card", []);
/// span.set_status(Status::error("card declined"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Status {
    /// Nothing was said (the default).
    ///
    /// ```
    /// # use wasmtrace_sdk::Status;
    /// assert_eq!(Status::default(), Status::Unset);
    /// ```
    #[default]
    Unset,
    /// The operation was explicitly marked successful.
    ///
    /// ```no_run
    /// # use wasmtrace_sdk::{span, Status};
    /// span::start("op", []).set_status(Status::Ok);
    /// ```
    Ok,
    /// The operation failed; the string describes why.
    ///
    /// ```
    /// # use wasmtrace_sdk::Status;
    /// let status = Status::Error("timeout".to_owned());
    /// assert_eq!(status, Status::error("timeout"));
    /// ```
    Error(String),
}

impl Status {
    /// An `Error` status with a description.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::Status;
    ///
    /// let err = std::io::Error::other("disk full");
    /// assert_eq!(Status::error(&err), Status::Error("disk full".to_owned()));
    /// ```
    pub fn error(description: impl Display) -> Self {
        Status::Error(description.to_string())
    }
}

impl<'a> From<&'a Status> for wit_types::Status<'a> {
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
/// # Example
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
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    ///     .with_trace_flags(SpanContext::SAMPLED);
    /// assert!(cx.is_sampled());
    /// ```
    pub const SAMPLED: u8 = 0x01;

    /// A span context with the given ids (lowercase hex), no trace flags, an
    /// empty trace state, and not remote.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::SpanContext;
    ///
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    /// assert!(cx.is_valid());
    /// assert!(!cx.is_sampled());
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
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::SpanContext;
    ///
    /// assert!(!SpanContext::invalid().is_valid());
    /// ```
    #[must_use]
    pub fn invalid() -> Self {
        Self::new("0".repeat(32), "0".repeat(16))
    }

    /// Parses a W3C `traceparent` header value
    /// (`version-traceid-spanid-flags`). The result is marked remote. Returns
    /// `None` when the value is malformed or its ids are all zero.
    ///
    /// # Example
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
            trace_flags: u8::from_str_radix(flags, 16).ok()?,
            trace_state: String::new(),
            is_remote: true,
        };
        cx.is_valid().then_some(cx)
    }

    /// Replaces the trace flags.
    ///
    /// # Example
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    ///     .with_trace_flags(0x01);
    /// assert_eq!(cx.trace_flags(), 1);
    /// ```
    #[must_use]
    pub fn with_trace_flags(mut self, trace_flags: u8) -> Self {
        self.trace_flags = trace_flags;
        self
    }

    /// Replaces the W3C `tracestate` value.
    ///
    /// # Example
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    ///     .with_trace_state("vendor=value");
    /// assert_eq!(cx.trace_state(), "vendor=value");
    /// ```
    #[must_use]
    pub fn with_trace_state(mut self, trace_state: impl Into<String>) -> Self {
        self.trace_state = trace_state.into();
        self
    }

    /// Marks the context as coming from another process (or not).
    ///
    /// # Example
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    ///     .with_remote(true);
    /// assert!(cx.is_remote());
    /// ```
    #[must_use]
    pub fn with_remote(mut self, is_remote: bool) -> Self {
        self.is_remote = is_remote;
        self
    }

    /// The trace id: 32 lowercase hex digits.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let cx = wasmtrace_sdk::current_span_context();
    /// println!("trace {}", cx.trace_id());
    /// ```
    #[must_use]
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The span id: 16 lowercase hex digits.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let cx = wasmtrace_sdk::current_span_context();
    /// println!("span {}", cx.span_id());
    /// ```
    #[must_use]
    pub fn span_id(&self) -> &str {
        &self.span_id
    }

    /// The W3C trace flags; bit 0 ([`SAMPLED`](Self::SAMPLED)) means sampled.
    ///
    /// # Example
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    /// assert_eq!(cx.trace_flags(), 0);
    /// ```
    #[must_use]
    pub fn trace_flags(&self) -> u8 {
        self.trace_flags
    }

    /// The W3C `tracestate` value (may be empty).
    ///
    /// # Example
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    /// assert_eq!(cx.trace_state(), "");
    /// ```
    #[must_use]
    pub fn trace_state(&self) -> &str {
        &self.trace_state
    }

    /// Whether this context came from another process.
    ///
    /// # Example
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// assert!(!SpanContext::invalid().is_remote());
    /// ```
    #[must_use]
    pub fn is_remote(&self) -> bool {
        self.is_remote
    }

    /// Whether the trace is sampled (trace flags bit 0).
    ///
    /// # Example
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    /// assert!(!cx.is_sampled());
    /// assert!(cx.with_trace_flags(SpanContext::SAMPLED).is_sampled());
    /// ```
    #[must_use]
    pub fn is_sampled(&self) -> bool {
        self.trace_flags & Self::SAMPLED != 0
    }

    /// Whether this identifies a span: both ids are present and not all
    /// zero.
    ///
    /// # Example
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// assert!(!SpanContext::invalid().is_valid());
    /// assert!(SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7").is_valid());
    /// ```
    #[must_use]
    pub fn is_valid(&self) -> bool {
        let non_zero = |id: &str| !id.is_empty() && id.bytes().any(|b| b != b'0');
        non_zero(&self.trace_id) && non_zero(&self.span_id)
    }

    /// Formats this context as a W3C `traceparent` header value (version
    /// `00`).
    ///
    /// # Example
    ///
    /// ```
    /// # use wasmtrace_sdk::SpanContext;
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    ///     .with_trace_flags(SpanContext::SAMPLED);
    /// assert_eq!(
    ///     cx.traceparent(),
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    /// );
    /// ```
    #[must_use]
    pub fn traceparent(&self) -> String {
        self.to_string()
    }
}

impl From<wit_types::SpanContextResult> for SpanContext {
    #[inline]
    fn from(cx: wit_types::SpanContextResult) -> Self {
        Self {
            trace_id: cx.trace_id,
            span_id: cx.span_id,
            trace_flags: cx.trace_flags,
            trace_state: cx.trace_state,
            is_remote: cx.is_remote,
        }
    }
}

impl<'a> From<&'a SpanContext> for wit_types::SpanContextParam<'a> {
    #[inline]
    fn from(cx: &'a SpanContext) -> Self {
        Self {
            trace_id: &cx.trace_id,
            span_id: &cx.span_id,
            trace_flags: cx.trace_flags,
            trace_state: &cx.trace_state,
            is_remote: cx.is_remote,
        }
    }
}

/// A link from a new span to another span, possibly in another trace (for
/// example the messages of a batch).
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{attrs, Link, Span, SpanContext};
///
/// let producer = SpanContext::from_traceparent(
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
/// )
/// .unwrap();
/// let _span = Span::builder("process_batch")
///     .link(Link::new(producer, attrs! { "messaging.message.id" => "m-1" }))
///     .start();
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The linked span. The host drops a link whose ids are not valid hex.
    ///
    /// ```
    /// # use wasmtrace_sdk::{Link, SpanContext};
    /// let link = Link::from(SpanContext::invalid());
    /// assert!(!link.span_context.is_valid());
    /// ```
    pub span_context: SpanContext,
    /// Attributes describing the link.
    ///
    /// ```
    /// # use wasmtrace_sdk::{attrs, Link, SpanContext};
    /// let link = Link::new(SpanContext::invalid(), attrs! { "k" => 1 });
    /// assert_eq!(link.attributes.len(), 1);
    /// ```
    pub attributes: Vec<KeyValue>,
}

impl Link {
    /// A link to `span_context` with attributes.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::{attrs, Link, SpanContext};
    ///
    /// let cx = SpanContext::new("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    /// let link = Link::new(cx, attrs! { "link.reason" => "retry" });
    /// assert_eq!(link.attributes[0].key, "link.reason");
    /// ```
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
/// # Example
///
/// ```no_run
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
    attributes: Vec<KeyValue>,
    links: Vec<Link>,
    parent: Option<ParentRef<'a>>,
    activate: bool,
}

/// What a [`SpanBuilder`] was told to use as parent.
#[derive(Debug, Clone, Copy)]
enum ParentRef<'a> {
    Context(&'a Context),
    Span(&'a SpanGuard),
}

impl<'a> SpanBuilder<'a> {
    /// A builder for a span called `name`: internal, no attributes or links,
    /// child of the current span, activated. Same as [`Span::builder`].
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::SpanBuilder;
    ///
    /// let _span = SpanBuilder::new("work").start();
    /// ```
    pub fn new(name: impl Into<Cow<'a, str>>) -> Self {
        Self {
            name: name.into(),
            kind: SpanKind::Internal,
            attributes: Vec::new(),
            links: Vec::new(),
            parent: None,
            activate: true,
        }
    }

    /// Sets the span's kind (default [`SpanKind::Internal`]).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{Span, SpanKind};
    ///
    /// let _span = Span::builder("GET /health").kind(SpanKind::Server).start();
    /// ```
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds initial attributes (may be called repeatedly).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{attrs, Span};
    ///
    /// let _span = Span::builder("query")
    ///     .attributes(attrs! { "db.system" => "sqlite", "db.rows" => 10 })
    ///     .start();
    /// ```
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(attributes);
        self
    }

    /// Adds one initial attribute.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::Span;
    ///
    /// let _span = Span::builder("query").attribute("db.system", "sqlite").start();
    /// ```
    pub fn attribute(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }

    /// Adds a link to another span (a [`Link`] or a bare [`SpanContext`]).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{current_span_context, Span};
    ///
    /// let trigger = current_span_context();
    /// let _span = Span::builder("follow_up").link(trigger).start();
    /// ```
    pub fn link(mut self, link: impl Into<Link>) -> Self {
        self.links.push(link.into());
        self
    }

    /// Adds several links.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{Link, Span, SpanContext};
    ///
    /// let batch: Vec<Link> = ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
    ///     .iter()
    ///     .filter_map(|tp| SpanContext::from_traceparent(tp))
    ///     .map(Link::from)
    ///     .collect();
    /// let _span = Span::builder("process_batch").links(batch).start();
    /// ```
    pub fn links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        self.links.extend(links);
        self
    }

    /// Makes the span a child of the span in `parent` (for example a
    /// context extracted from incoming headers) instead of the current span.
    /// An empty context ([`Context::empty`]) starts a new trace.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{Context, Span};
    ///
    /// let root = Context::empty();
    /// let _span = Span::builder("background_job").parent(&root).start();
    /// ```
    pub fn parent(mut self, parent: &'a Context) -> Self {
        self.parent = Some(ParentRef::Context(parent));
        self
    }

    /// Makes the span a child of `parent`, even if `parent` is not active
    /// (started with [`activate(false)`](Self::activate)).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::Span;
    ///
    /// let background = Span::builder("refresh").activate(false).start();
    /// let _step = Span::builder("refresh.step").child_of(&background).start();
    /// ```
    pub fn child_of(mut self, parent: &'a SpanGuard) -> Self {
        self.parent = Some(ParentRef::Span(parent));
        self
    }

    /// Whether the span becomes the current span while open (default
    /// `true`). An inactive span does not adopt spans started while it is
    /// open, and the free functions such as
    /// [`add_attributes`] do not see it.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::Span;
    ///
    /// // Measure a background operation without re-parenting what follows.
    /// let timer = Span::builder("cache_refresh").activate(false).start();
    /// let _unrelated = Span::builder("next_step").start(); // not a child of `timer`
    /// drop(timer);
    /// ```
    pub fn activate(mut self, activate: bool) -> Self {
        self.activate = activate;
        self
    }

    /// Starts the span (one host call). It ends when the returned guard is
    /// dropped or [`SpanGuard::end`] is called.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::Span;
    ///
    /// let span = Span::builder("step").start();
    /// span.set_attribute("step.index", 1);
    /// span.end();
    /// ```
    pub fn start(self) -> SpanGuard {
        let parent = match self.parent {
            Some(ParentRef::Context(cx)) => wit_tracing::Parent::Explicit(cx.as_wit()),
            Some(ParentRef::Span(span)) => match &span.inner {
                Some(inner) => wit_tracing::Parent::Span(inner),
                // A child of a skipped span is unsampled too.
                None => return SpanGuard::skipped(),
            },
            None => wit_tracing::Parent::Current,
        };
        start_span(
            &self.name,
            self.kind,
            self.attributes,
            self.links,
            parent,
            self.activate,
        )
    }

    /// Starts the span, runs `f` with it, ends it and returns `f`'s value.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{Span, SpanKind};
    ///
    /// let bytes = Span::builder("GET /data")
    ///     .kind(SpanKind::Client)
    ///     .in_span(|span| {
    ///         let body = vec![0_u8; 512]; // the actual request
    ///         span.set_attribute("http.response.body.size", body.len() as i64);
    ///         body
    ///     });
    /// assert_eq!(bytes.len(), 512);
    /// ```
    pub fn in_span<R>(self, f: impl FnOnce(&SpanGuard) -> R) -> R {
        let span = self.start();
        f(&span)
    }
}

/// An open span. Dropping the guard (or calling [`end`](Self::end)) ends the
/// span.
///
/// An activated span (the default) is the plugin's current span until it
/// ends. Spans should end in reverse order of starting; the host copes with
/// any order.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{attrs, Span, SpanKind};
///
/// let span = Span::builder("resize_image")
///     .kind(SpanKind::Internal)
///     .attributes(attrs! { "image.width" => 640, "image.height" => 480 })
///     .start();
/// if span.is_recording() {
///     span.set_attribute("image.format", "png");
/// }
/// span.add_event("decoded", attrs! { "bytes" => 48_213 });
/// // `span` ends when it goes out of scope.
/// ```
#[derive(Debug)]
#[must_use = "a span ends as soon as its guard is dropped"]
pub struct SpanGuard {
    /// The host's span; `None` for a span skipped in an unsampled trace
    /// (see [`is_recording`](Self::is_recording)).
    inner: Option<wit_tracing::Span>,
    /// This span's entry in the SDK's mirror of the current-context stack,
    /// when it is activated.
    entry: Option<u64>,
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if let Some(id) = self.entry.take() {
            sampling::pop(id);
        }
        // Dropping `inner` next ends the span in the host.
    }
}

/// Starts a span in the host unless the current span is known to be
/// unsampled (then nothing crosses the boundary). The one place spans start.
fn start_span(
    name: &str,
    kind: SpanKind,
    attributes: impl IntoIterator<Item = KeyValue>,
    links: Vec<Link>,
    parent: wit_tracing::Parent<'_>,
    activate: bool,
) -> SpanGuard {
    let known = match parent {
        wit_tracing::Parent::Current => match sampling::current() {
            Known::Skip => return SpanGuard::skipped(),
            Known::Sampled => Known::Sampled,
            _ => Known::Unknown,
        },
        _ => Known::Unknown,
    };
    // Everything is lowered borrowing the SDK's own strings: the links'
    // attribute lists first, since the links borrow them.
    let link_arrays: Vec<StrArrays<'_>> =
        links.iter().map(|l| StrArrays::of(&l.attributes)).collect();
    let link_attributes: Vec<Vec<wit_types::KeyValue<'_>>> = links
        .iter()
        .zip(&link_arrays)
        .map(|(l, arrays)| arrays.lower(&l.attributes))
        .collect();
    let links: Vec<wit_types::Link<'_>> = links
        .iter()
        .zip(&link_attributes)
        .map(|(l, attributes)| wit_types::Link {
            span_context: (&l.span_context).into(),
            attributes,
        })
        .collect();
    let inner = with_wit(attributes, |attributes| {
        let options = wit_tracing::StartOptions {
            kind: kind.into(),
            attributes,
            links: &links,
            parent,
            activate,
        };
        wit_tracing::Span::start(name, options)
    });
    SpanGuard {
        inner: Some(inner),
        entry: activate.then(|| sampling::push(known)),
    }
}

/// A span; an alias of [`SpanGuard`], since a span is always held through
/// its guard. `Span::builder(name)` starts the builder chain.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{attrs, Span};
///
/// let span: Span = Span::builder("checkout").attributes(attrs! { "cart.items" => 3 }).start();
/// span.end();
/// ```
pub type Span = SpanGuard;

impl SpanGuard {
    /// A [`SpanBuilder`] for a span called `name`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{Span, SpanKind};
    ///
    /// let _span = Span::builder("publish").kind(SpanKind::Producer).start();
    /// ```
    pub fn builder<'a>(name: impl Into<Cow<'a, str>>) -> SpanBuilder<'a> {
        SpanBuilder::new(name)
    }

    /// Sets one attribute; a later value for the same key replaces an earlier
    /// one. One host call.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let span = wasmtrace_sdk::span::start("fetch", []);
    /// span.set_attribute("http.response.status_code", 200);
    /// ```
    pub fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        if let Some(inner) = &self.inner {
            with_wit_slice(&[KeyValue::new(key, value)], |attributes| {
                inner.set_attributes(attributes);
            });
        }
    }

    /// Sets several attributes in one host call.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{attrs, span};
    ///
    /// let span = span::start("fetch", []);
    /// span.set_attributes(attrs! { "retries" => 2, "cached" => false });
    /// ```
    pub fn set_attributes(&self, attributes: impl IntoIterator<Item = KeyValue>) {
        if let Some(inner) = &self.inner {
            with_wit(attributes, |attributes| inner.set_attributes(attributes));
        }
    }

    /// Adds an event at the current time.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{attrs, span};
    ///
    /// let span = span::start("download", []);
    /// span.add_event("chunk_received", attrs! { "chunk.size" => 4096 });
    /// ```
    pub fn add_event(&self, name: &str, attributes: impl IntoIterator<Item = KeyValue>) {
        if let Some(inner) = &self.inner {
            with_wit(attributes, |attributes| inner.add_event(name, attributes));
        }
    }

    /// Sets the status. `Error` and `Ok` are final; `Unset` never overrides
    /// them.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{span, Status};
    ///
    /// let span = span::start("health_check", []);
    /// span.set_status(Status::Ok);
    /// ```
    pub fn set_status(&self, status: Status) {
        if let Some(inner) = &self.inner {
            inner.set_status((&status).into());
        }
    }

    /// Sets the status to `Error` with `error`'s message. Does not add an
    /// exception event: see [`record_error`](Self::record_error) and
    /// [`record_result`](Self::record_result).
    ///
    /// # Example
    ///
    /// ```no_run
    /// let span = wasmtrace_sdk::span::start("lookup", []);
    /// span.set_error("user not found");
    /// ```
    pub fn set_error(&self, error: impl Display) {
        self.set_status(Status::error(error));
    }

    /// Records an exception event (`exception.type` is `E`'s type name,
    /// `exception.message` its `Display` output). Does not change the
    /// status: see [`set_error`](Self::set_error).
    ///
    /// Works with any `Display` type, including `dyn std::error::Error`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let span = wasmtrace_sdk::span::start("parse", []);
    /// if let Err(err) = "x1".parse::<u32>() {
    ///     span.record_error(&err); // exception.type = "core::num::error::ParseIntError"
    ///     span.set_error(&err);
    /// }
    /// ```
    pub fn record_error<E: Display + ?Sized>(&self, error: &E) {
        if let Some(inner) = &self.inner {
            inner.record_exception(type_name::<E>(), &error.to_string(), None);
        }
    }

    /// Reports an operation's result on this span: on `Err`, sets the status
    /// to `Error` with the error's message and records an exception event
    /// (type `std::any::type_name::<E>()`). On `Ok` it does nothing, leaving
    /// the status `Unset` as OpenTelemetry recommends (no host call).
    ///
    /// # Example
    ///
    /// ```no_run
    /// let span = wasmtrace_sdk::span::start("parse_port", []);
    /// let port = "80a".parse::<u16>();
    /// span.record_result(&port);
    /// ```
    pub fn record_result<T, E: Display>(&self, result: &Result<T, E>) {
        if let (Err(error), Some(inner)) = (result, &self.inner) {
            let message = error.to_string();
            inner.record_exception(type_name::<E>(), &message, None);
            inner.set_status(wit_types::Status::Error(&message));
        }
    }

    /// The span's identity, e.g. for logs or links. A span skipped in an
    /// unsampled trace has no identity of its own: it gives the context of
    /// the current span (its would-be parent, unsampled), which is also what
    /// propagates from inside it.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let span = wasmtrace_sdk::span::start("job", []);
    /// println!("trace_id={} span_id={}", span.span_context().trace_id(), span.span_context().span_id());
    /// ```
    #[must_use]
    pub fn span_context(&self) -> SpanContext {
        match &self.inner {
            Some(inner) => inner.span_context().into(),
            None => current_span_context(),
        }
    }

    /// Whether the span records data: `false` when the trace is not sampled
    /// or the invocation's limits were reached. Skip expensive attributes
    /// then.
    ///
    /// A span started under an unsampled span of the plugin's own trace is
    /// not even created in the host: the SDK knows the host's decision (a
    /// child of an unsampled span is unsampled) and the span costs no host
    /// call; its methods do nothing.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let span = wasmtrace_sdk::span::start("render", []);
    /// if span.is_recording() {
    ///     span.set_attribute("template.size", 1024);
    /// }
    /// ```
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|inner| inner.is_recording())
    }

    /// A span skipped in an unsampled trace: nothing in the host.
    fn skipped() -> Self {
        Self {
            inner: None,
            entry: None,
        }
    }

    /// Ends the span now. Equivalent to dropping the guard (one host call).
    ///
    /// # Example
    ///
    /// ```no_run
    /// let span = wasmtrace_sdk::span::start("step_one", []);
    /// // ... work ...
    /// span.end();
    /// ```
    pub fn end(self) {
        // Dropping the host handle ends the span (the WIT contract), so an
        // explicit `end` call would only add a host call.
        drop(self);
    }
}

/// Starts an activated child of the current span with initial attributes.
/// The span ends when the guard is dropped. Shorthand for
/// `Span::builder(name).attributes(attributes).start()`.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{attrs, span};
///
/// let _span = span::start("compress", attrs! { "level" => 6 });
/// // ... work, ends at the end of scope ...
/// ```
pub fn start(name: &str, attributes: impl IntoIterator<Item = KeyValue>) -> SpanGuard {
    start_span(
        name,
        SpanKind::Internal,
        attributes,
        Vec::new(),
        wit_tracing::Parent::Current,
        true,
    )
}

/// Runs `f` inside a new activated span and returns its value. The span ends
/// when `f` returns (or unwinds).
///
/// Inside `f`, use [`add_attributes`] and [`record_event`] to annotate the
/// span. To mark the span as failed when `f` returns `Err`, use
/// [`try_with_span`].
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{add_attributes, attrs, with_span};
///
/// let total: u32 = with_span("sum", attrs! { "items" => 3 }, || {
///     let total = [1, 2, 3].iter().sum();
///     add_attributes(attrs! { "total" => total });
///     total
/// });
/// assert_eq!(total, 6);
/// ```
pub fn with_span<R>(
    name: &str,
    attributes: impl IntoIterator<Item = KeyValue>,
    f: impl FnOnce() -> R,
) -> R {
    let _span = start(name, attributes);
    f()
}

/// Like [`with_span`] for fallible work: when `f` returns `Err`, the span's
/// status becomes `Error` with the error's message and an exception event is
/// recorded (`exception.type` = `std::any::type_name::<E>()`). The result is
/// returned unchanged.
///
/// # Errors
///
/// Returns `f`'s error, unchanged.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{attrs, try_with_span};
///
/// let port: Result<u16, _> = try_with_span("parse_port", attrs! { "input" => "80a" }, || {
///     "80a".parse::<u16>()
/// });
/// assert!(port.is_err()); // and the span is marked Error
/// ```
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

/// Adds attributes to the plugin's current span, if it is one of the
/// plugin's open spans; otherwise does nothing. One host call (none in an
/// unsampled trace).
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{add_attributes, attrs, with_span};
///
/// with_span("import", [], || {
///     add_attributes(attrs! { "rows" => 120, "skipped" => 3 });
/// });
/// ```
pub fn add_attributes(attributes: impl IntoIterator<Item = KeyValue>) {
    if !sampling::is_skipping() {
        with_wit(attributes, wit_tracing::add_attributes);
    }
}

/// Adds an event to the plugin's current span, if it is one of the plugin's
/// open spans; otherwise does nothing. One host call (none in an unsampled
/// trace).
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{attrs, record_event, with_span};
///
/// with_span("sync", [], || {
///     record_event("cache_miss", attrs! { "key" => "user:42" });
/// });
/// ```
pub fn record_event(name: &str, attributes: impl IntoIterator<Item = KeyValue>) {
    if !sampling::is_skipping() {
        with_wit(attributes, |attributes| {
            wit_tracing::record_event(name, attributes);
        });
    }
}

/// The span context of the plugin's current span, or of the invocation's
/// span when the plugin has none open.
///
/// # Example
///
/// ```no_run
/// let cx = wasmtrace_sdk::current_span_context();
/// if cx.is_valid() {
///     println!("traceparent: {}", cx.traceparent());
/// }
/// ```
#[must_use]
pub fn current_span_context() -> SpanContext {
    wit_tracing::current_span_context().into()
}

/// The trace id (32 lowercase hex digits) of the current span, or `None`
/// when there is no valid trace (all-zero ids). Handy for log lines and
/// error messages.
///
/// # Example
///
/// ```no_run
/// if let Some(trace_id) = wasmtrace_sdk::current_trace_id() {
///     eprintln!("[trace_id={trace_id}] starting");
/// }
/// ```
#[must_use]
pub fn current_trace_id() -> Option<String> {
    let cx = current_span_context();
    cx.is_valid().then_some(cx.trace_id)
}

impl fmt::Display for SpanContext {
    /// Formats the context as a `traceparent` value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.span_id, self.trace_flags
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_round_trip() {
        let cx = SpanContext::from_traceparent(TP).unwrap();
        assert_eq!(cx.traceparent(), TP);
        assert_eq!(cx.to_string(), TP);
        assert!(cx.is_remote());
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
    fn validity() {
        assert!(!SpanContext::invalid().is_valid());
        assert!(!SpanContext::new("", "").is_valid());
    }
}
