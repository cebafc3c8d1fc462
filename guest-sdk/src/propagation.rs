//! Trace context propagation: continuing a trace across process boundaries.
//!
//! Outgoing: put [`trace_headers`] (or [`propagate_context`]) into the
//! request's headers or message metadata. Incoming: run the work inside
//! [`with_propagated_context`] so that its spans join the caller's trace. The
//! host's configured propagators decide the format (W3C `traceparent`,
//! `tracestate`, `baggage`).
//!
//! Baggage (W3C Baggage name/value pairs that travel with the trace) is read
//! with [`baggage`] and [`baggage_item`], and added for the duration of a
//! closure with [`with_baggage`]: the headers built inside it carry it.
//!
//! ```no_run
//! use wasmtrace_sdk::{attrs, propagation, with_span, PropagatedContext};
//!
//! // Client side: headers for an outgoing request.
//! let headers: Vec<(String, String)> = propagation::trace_headers();
//!
//! // Server side: continue the caller's trace.
//! let incoming = PropagatedContext::from(headers);
//! propagation::with_propagated_context(&incoming, || {
//!     with_span("handle_message", attrs! {}, || { /* ... */ });
//! });
//! ```

use std::collections::HashMap;

use crate::sampling::{self, Known};
use crate::span::SpanContext;
use crate::wit::wasmtrace::tracing::propagation as wit;

/// A trace context held by the host: a span (local or remote) plus baggage.
/// Plugins never see its internals; they pass it back to the host, e.g. as
/// a span's [parent](crate::SpanBuilder::parent).
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{Context, PropagatedContext, Span};
///
/// let headers: PropagatedContext =
///     [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
///         .into_iter()
///         .collect();
/// let remote = Context::extract(&headers);
/// assert_eq!(remote.span_context().trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// let _span = Span::builder("consume").parent(&remote).start();
/// ```
#[derive(Debug)]
pub struct Context {
    inner: wit::Context,
}

impl Context {
    /// The plugin's current context: the innermost active span or attached
    /// context, or the invocation's context when there is none.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::Context;
    ///
    /// let headers = Context::current().inject();
    /// ```
    #[must_use]
    pub fn current() -> Self {
        Self {
            inner: wit::Context::current(),
        }
    }

    /// Continues a trace from a carrier (keys are matched
    /// case-insensitively). A malformed or missing header yields an empty
    /// context, never an error.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{Context, PropagatedContext};
    ///
    /// let carrier = PropagatedContext::from(vec![(
    ///     "TraceParent".to_owned(),
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    /// )]);
    /// let cx = Context::extract(&carrier);
    /// assert!(cx.span_context().is_remote());
    /// ```
    #[must_use]
    pub fn extract(carrier: &PropagatedContext) -> Self {
        Self {
            inner: wit::Context::extract(&borrow_pairs(&carrier.0)),
        }
    }

    /// An empty context: as a span's parent it starts a new trace.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{Context, Span};
    ///
    /// let root = Context::empty();
    /// assert!(!root.span_context().is_valid());
    /// let _span = Span::builder("new_trace").parent(&root).start();
    /// ```
    #[must_use]
    pub fn empty() -> Self {
        Self::extract(&PropagatedContext::new())
    }

    /// Writes this context into a new carrier (`traceparent`, `tracestate`,
    /// `baggage`, as the host is configured).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::Context;
    ///
    /// let carrier = Context::current().inject();
    /// for (name, value) in carrier.iter() {
    ///     println!("{name}: {value}");
    /// }
    /// ```
    #[must_use]
    pub fn inject(&self) -> PropagatedContext {
        PropagatedContext(self.inner.inject())
    }

    /// The span context of the span in this context (all-zero when none).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::Context;
    ///
    /// let cx = Context::current().span_context();
    /// println!("{}", cx.trace_id());
    /// ```
    #[must_use]
    pub fn span_context(&self) -> SpanContext {
        self.inner.span_context().into()
    }

    /// Makes this context current until the returned guard is dropped:
    /// spans started without an explicit parent become its children.
    /// Guards may be dropped in any order.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{span, Context, PropagatedContext};
    ///
    /// let incoming: PropagatedContext =
    ///     [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    ///         .into_iter()
    ///         .collect();
    /// let cx = Context::extract(&incoming);
    /// let guard = cx.attach();
    /// let _child = span::start("work", []); // child of the remote span
    /// drop(guard);
    /// ```
    pub fn attach(&self) -> ContextGuard {
        ContextGuard {
            _inner: self.inner.attach(),
            entry: sampling::push(Known::Unknown),
        }
    }

    /// The W3C Baggage entries of this context, as (name, value) pairs in
    /// no particular order; values are decoded (no percent-escapes).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::{Context, PropagatedContext};
    ///
    /// let incoming: PropagatedContext = [("baggage", "tenant=acme,user=J%C3%BCrgen")]
    ///     .into_iter()
    ///     .collect();
    /// let mut entries = Context::extract(&incoming).baggage();
    /// entries.sort();
    /// assert_eq!(entries[1], ("user".to_owned(), "Jürgen".to_owned()));
    /// ```
    #[must_use]
    pub fn baggage(&self) -> Vec<(String, String)> {
        self.inner.baggage()
    }

    /// A copy of this context with `entries` added to its baggage; a later
    /// value for the same name replaces an earlier one. The host drops
    /// entries whose name is not a valid W3C Baggage key (an HTTP token:
    /// letters, digits and ``!#$%&'*+-.^_`|~``) and those past W3C's limits
    /// (64 entries, 8192 bytes). Values may be any text; the host
    /// percent-encodes them on the wire. [`attach`](Self::attach) the
    /// result to make it current.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use wasmtrace_sdk::Context;
    ///
    /// let cx = Context::current().with_baggage([("tenant", "acme")]);
    /// let _guard = cx.attach();
    /// // headers built here carry `baggage: tenant=acme`
    /// ```
    #[must_use]
    pub fn with_baggage<K: Into<String>, V: Into<String>>(
        &self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let entries: Vec<(String, String)> = entries
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self {
            inner: self.inner.with_baggage(&borrow_pairs(&entries)),
        }
    }

    pub(crate) fn as_wit(&self) -> &wit::Context {
        &self.inner
    }
}

/// String pairs as the WIT functions take them: borrowed, not copied.
fn borrow_pairs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Keeps an attached [`Context`] current; dropping it restores the previous
/// one.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::Context;
///
/// let root = Context::empty();
/// {
///     let _guard = root.attach();
///     // spans started here begin a new trace
/// }
/// // the previous context is current again
/// ```
#[derive(Debug)]
#[must_use = "the context is detached as soon as the guard is dropped"]
pub struct ContextGuard {
    _inner: wit::ContextGuard,
    /// This context's entry in the SDK's mirror of the current stack.
    entry: u64,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        sampling::pop(self.entry);
    }
}

/// A carrier of trace context: key/value pairs such as HTTP headers or
/// message metadata (typically `traceparent`, `tracestate`, `baggage`).
///
/// Produced by [`propagate_context`] / [`Context::inject`] and consumed by
/// [`with_propagated_context`] / [`Context::extract`]. It is a plain list of
/// string pairs, easy to copy into any transport. Key lookups are
/// case-insensitive, as for HTTP headers.
///
/// # Example
///
/// ```
/// use wasmtrace_sdk::PropagatedContext;
///
/// let mut carrier = PropagatedContext::new();
/// carrier.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// assert_eq!(carrier.get("TraceParent"), carrier.as_pairs().first().map(|(_, v)| v.as_str()));
/// assert_eq!(carrier.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PropagatedContext(Vec<(String, String)>);

impl PropagatedContext {
    /// An empty carrier.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::PropagatedContext;
    ///
    /// assert!(PropagatedContext::new().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// The pairs, in order.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::PropagatedContext;
    ///
    /// let carrier: PropagatedContext = [("baggage", "user=42")].into_iter().collect();
    /// assert_eq!(carrier.as_pairs(), &[("baggage".to_owned(), "user=42".to_owned())]);
    /// ```
    #[must_use]
    pub fn as_pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The pairs, by value.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::PropagatedContext;
    ///
    /// let carrier: PropagatedContext = [("baggage", "user=42")].into_iter().collect();
    /// let pairs: Vec<(String, String)> = carrier.into_pairs();
    /// assert_eq!(pairs.len(), 1);
    /// ```
    #[must_use]
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }

    /// Iterates over the pairs as string slices.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::PropagatedContext;
    ///
    /// let carrier: PropagatedContext = [("a", "1"), ("b", "2")].into_iter().collect();
    /// let keys: Vec<&str> = carrier.iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["a", "b"]);
    /// ```
    #[must_use]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of the first pair whose key matches `key`
    /// case-insensitively.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::PropagatedContext;
    ///
    /// let carrier: PropagatedContext = [("TraceState", "v=1")].into_iter().collect();
    /// assert_eq!(carrier.get("tracestate"), Some("v=1"));
    /// assert_eq!(carrier.get("baggage"), None);
    /// ```
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value`, replacing the pairs whose key matches
    /// case-insensitively.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::PropagatedContext;
    ///
    /// let mut carrier: PropagatedContext = [("Baggage", "a=1")].into_iter().collect();
    /// carrier.insert("baggage", "a=2");
    /// assert_eq!(carrier.as_pairs(), &[("baggage".to_owned(), "a=2".to_owned())]);
    /// ```
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
        self.0.push((key, value.into()));
    }

    /// The number of pairs.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::PropagatedContext;
    ///
    /// assert_eq!(PropagatedContext::new().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::PropagatedContext;
    ///
    /// assert!(PropagatedContext::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs as a map with lowercase keys (HTTP header names are
    /// case-insensitive). For a repeated key the last value wins.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::PropagatedContext;
    ///
    /// let carrier: PropagatedContext = [("TraceParent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    ///     .into_iter()
    ///     .collect();
    /// let map = carrier.to_header_map();
    /// assert!(map["traceparent"].starts_with("00-"));
    /// ```
    #[must_use]
    pub fn to_header_map(&self) -> HashMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect()
    }
}

impl From<Vec<(String, String)>> for PropagatedContext {
    /// Wraps pairs, e.g. incoming headers.
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }
}

impl From<PropagatedContext> for Vec<(String, String)> {
    /// Unwraps the pairs.
    fn from(carrier: PropagatedContext) -> Self {
        carrier.0
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for PropagatedContext {
    /// Collects pairs in order (no de-duplication).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for PropagatedContext {
    /// Appends pairs in order (no de-duplication; see
    /// [`insert`](PropagatedContext::insert)).
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.0
            .extend(iter.into_iter().map(|(k, v)| (k.into(), v.into())));
    }
}

impl IntoIterator for PropagatedContext {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a PropagatedContext {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The current context (the active span, or the invocation's) as a carrier,
/// to send along with an outgoing request or message.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{attrs, propagate_context, with_span};
///
/// let carrier = with_span("enqueue", attrs! {}, || propagate_context());
/// // ... attach `carrier.as_pairs()` to the message's metadata ...
/// # let _ = carrier;
/// ```
#[must_use]
pub fn propagate_context() -> PropagatedContext {
    Context::current().inject()
}

/// Headers for an outgoing HTTP request that continue the current trace
/// (`traceparent`, and `tracestate`/`baggage` when present). Same as
/// `propagate_context().into_pairs()`.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{Span, SpanKind};
///
/// let _span = Span::builder("GET /inventory").kind(SpanKind::Client).start();
/// for (name, value) in wasmtrace_sdk::trace_headers() {
///     // request.header(name, value);
///     # let _ = (name, value);
/// }
/// ```
#[must_use]
pub fn trace_headers() -> Vec<(String, String)> {
    propagate_context().into_pairs()
}

/// Runs `f` with the context extracted from `carrier` attached, so that the
/// spans started in `f` continue the carrier's trace; the previous context is
/// restored afterwards. An empty or malformed carrier makes `f`'s spans
/// start a new trace.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{attrs, with_propagated_context, with_span, PropagatedContext};
///
/// let incoming: PropagatedContext =
///     [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
///         .into_iter()
///         .collect();
/// let reply = with_propagated_context(&incoming, || {
///     with_span("handle_rpc", attrs! { "rpc.method" => "Get" }, || "ok")
/// });
/// assert_eq!(reply, "ok");
/// ```
pub fn with_propagated_context<R>(carrier: &PropagatedContext, f: impl FnOnce() -> R) -> R {
    let cx = Context::extract(carrier);
    let _guard = cx.attach();
    f()
    // `_guard` drops before `cx`: the previous context is restored first.
}

/// The baggage of the current context (the active span's, or the
/// invocation's, which the host extracted from the caller), as (name, value)
/// pairs in no particular order. Values are decoded.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::baggage;
///
/// for (name, value) in baggage() {
///     println!("{name}={value}");
/// }
/// ```
#[must_use]
pub fn baggage() -> Vec<(String, String)> {
    Context::current().baggage()
}

/// The value of the current context's baggage entry `name` (names are
/// case-sensitive), if any.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{attrs, baggage_item, with_span};
///
/// let tenant = baggage_item("tenant").unwrap_or_else(|| "unknown".to_owned());
/// with_span("handle", attrs! { "tenant" => tenant }, || { /* ... */ });
/// ```
#[must_use]
pub fn baggage_item(name: &str) -> Option<String> {
    baggage()
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Runs `f` with the current context plus `entries` in its baggage attached,
/// so that [`propagate_context`] and [`trace_headers`] inside `f` carry them
/// (and nested `with_baggage` calls add to them); the previous context is
/// current again afterwards. Spans started in `f` are children of the
/// current span as usual. A later value for the same name replaces an
/// earlier one; invalid names and entries past W3C's limits (64 entries,
/// 8192 bytes) are dropped by the host.
///
/// # Example
///
/// ```no_run
/// use wasmtrace_sdk::{baggage_item, trace_headers, with_baggage};
///
/// let headers = with_baggage([("tenant", "acme"), ("user.tier", "gold")], || {
///     assert_eq!(baggage_item("tenant").as_deref(), Some("acme"));
///     trace_headers() // includes `baggage: tenant=acme,user.tier=gold`
/// });
/// # let _ = headers;
/// ```
pub fn with_baggage<R, K: Into<String>, V: Into<String>>(
    entries: impl IntoIterator<Item = (K, V)>,
    f: impl FnOnce() -> R,
) -> R {
    let cx = Context::current().with_baggage(entries);
    let _guard = cx.attach();
    f()
    // `_guard` drops before `cx`: the previous context is restored first.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_is_case_insensitive() {
        let mut carrier: PropagatedContext = [("TraceParent", "a"), ("baggage", "b")]
            .into_iter()
            .collect();
        assert_eq!(carrier.get("traceparent"), Some("a"));
        carrier.insert("TRACEPARENT", "c");
        assert_eq!(carrier.len(), 2);
        assert_eq!(carrier.get("traceparent"), Some("c"));
        let map = carrier.to_header_map();
        assert_eq!(map.get("traceparent").map(String::as_str), Some("c"));
        assert_eq!(map.get("baggage").map(String::as_str), Some("b"));
    }
}
