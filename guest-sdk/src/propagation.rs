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
//! ```ignore
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

use crate::current::{self, EMPTY, INVOCATION, Known, REFUSED};
use crate::span::SpanContext;
use crate::wit::wasmtrace::telemetry::propagation as wit;

/// A trace context held by the host: a span (local or remote) plus baggage.
/// Plugins pass it back to the host, e.g. as a span's
/// [parent](crate::SpanBuilder::parent). Contexts made by [`extract`] and
/// [`with_baggage`] are released when dropped.
///
/// ```ignore
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
///
/// [`extract`]: Context::extract
/// [`with_baggage`]: Context::with_baggage
#[derive(Debug)]
pub struct Context {
    handle: u32,
    /// Whether dropping it releases the host's handle.
    owned: bool,
}

impl Context {
    /// The current context: the innermost active span or attached context,
    /// else the invocation's. Makes no host call.
    #[must_use]
    pub fn current() -> Self {
        Self::borrowed(current::handle())
    }

    /// The invocation's context: the span the host started this invocation
    /// in (and its baggage).
    #[must_use]
    pub fn invocation() -> Self {
        Self::borrowed(INVOCATION)
    }

    /// A context with no span: spans started under it begin a new trace.
    #[must_use]
    pub fn empty() -> Self {
        Self::borrowed(EMPTY)
    }

    pub(crate) fn borrowed(handle: u32) -> Self {
        Self {
            handle,
            owned: false,
        }
    }

    fn owned(handle: u32) -> Self {
        Self {
            handle,
            owned: handle != REFUSED && handle != EMPTY && handle != INVOCATION,
        }
    }

    /// Continues a trace from a carrier (incoming request headers, message
    /// metadata). A malformed or missing header gives a context without a
    /// span, never an error.
    #[must_use]
    pub fn extract(carrier: &PropagatedContext) -> Self {
        Self::owned(wit::extract(&borrow_pairs(&carrier.0)))
    }

    /// Writes this context into a new carrier, for an outgoing request.
    #[must_use]
    pub fn inject(&self) -> PropagatedContext {
        PropagatedContext(wit::inject(self.handle))
    }

    /// The span context of the span in this context (invalid when none).
    #[must_use]
    pub fn span_context(&self) -> SpanContext {
        wit::span_context_of(self.handle).into()
    }

    /// Makes this context current until the guard is dropped: spans started
    /// meanwhile nest under it, and so do the host's outbound requests.
    pub fn attach(&self) -> ContextGuard {
        wit::attach(self.handle);
        ContextGuard {
            handle: self.handle,
            entry: current::push(self.handle, Known::Unknown),
        }
    }

    /// The W3C Baggage entries of this context.
    #[must_use]
    pub fn baggage(&self) -> Vec<(String, String)> {
        wit::baggage(self.handle)
    }

    /// A copy of this context with `entries` added to its baggage.
    #[must_use]
    pub fn with_baggage<K: AsRef<str>, V: AsRef<str>>(
        &self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let entries: Vec<(K, V)> = entries.into_iter().collect();
        let pairs: Vec<(&str, &str)> = entries
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        Self::owned(wit::with_baggage(self.handle, &pairs))
    }

    /// The host's handle (WIT `context`), for the raw bindings.
    #[must_use]
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        if self.owned {
            wit::release(self.handle);
        }
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
/// one (guards may be dropped in any order).
#[derive(Debug)]
#[must_use = "the context is detached as soon as the guard is dropped"]
pub struct ContextGuard {
    handle: u32,
    entry: u64,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        current::pop(self.entry);
        wit::detach(self.handle);
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
/// to send along with an outgoing request or message (the guide's
/// `propagate_context`).
#[must_use]
pub fn propagate_context() -> PropagatedContext {
    Context::current().inject()
}

/// The current context as header pairs (`traceparent`, `tracestate`,
/// `baggage`), the guide's `trace_headers`.
#[must_use]
pub fn trace_headers() -> Vec<(String, String)> {
    propagate_context().into_pairs()
}

/// Runs `f` in the context carried by `carrier` (the guide's
/// `with_propagated_context`): spans started inside continue that trace.
pub fn with_propagated_context<R>(carrier: &PropagatedContext, f: impl FnOnce() -> R) -> R {
    let cx = Context::extract(carrier);
    let _guard = cx.attach();
    f()
    // `_guard` drops before `cx`: the previous context is restored first.
}

/// The current context's baggage.
#[must_use]
pub fn baggage() -> Vec<(String, String)> {
    Context::current().baggage()
}

/// One baggage entry of the current context.
#[must_use]
pub fn baggage_item(name: &str) -> Option<String> {
    baggage()
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Runs `f` with `entries` added to the current context's baggage: spans
/// and trace headers made inside carry them.
///
/// ```ignore
/// wasmtrace_sdk::with_baggage([("tenant", "acme")], || {
///     assert_eq!(wasmtrace_sdk::baggage_item("tenant").as_deref(), Some("acme"));
/// });
/// ```
pub fn with_baggage<R, K: AsRef<str>, V: AsRef<str>>(
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
