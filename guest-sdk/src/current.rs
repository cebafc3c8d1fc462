//! The plugin's current context, kept in the guest: a stack of host handles
//! (spans started active, contexts attached), each with what is known of
//! its sampling decision.
//!
//! Every host call takes its context explicitly; the SDK passes the top of
//! this stack for the functions that act on "the current span". The host
//! keeps a stack of its own only for work it does without being told a
//! context (outbound `wasi:http` requests), which the SDK keeps in step by
//! starting active spans with `activate` and attaching contexts.
//!
//! Sampling is the host's (docs/DESIGN.md §6): it decides on the
//! invocation span before the plugin runs. Under OpenTelemetry's samplers (the
//! parent-based ones, the default; `traceidratio`, which decides by trace id;
//! `always_on`/`always_off`) a child of an unsampled *local* span is never
//! sampled. So once the host has said that the current span is local and
//! unsampled, a span started under it is skipped in the guest: no start call,
//! no attributes lowered, no end call. A remote or missing current context is
//! never trusted (a non-parent-based sampler may still sample a child of a
//! remote unsampled parent); the host decides those. The host is asked at
//! most once per entry.

use std::cell::{Cell, RefCell};

use crate::wit::wasmtrace::telemetry::propagation as wit;
use crate::wit::wasmtrace::telemetry::types::TraceFlags;

/// The invocation's context (WIT `context` 0).
pub(crate) const INVOCATION: u32 = 0;
/// The empty context (WIT `context` 1): spans under it begin a new trace.
pub(crate) const EMPTY: u32 = 1;
/// What the host returns for a refused span or context.
pub(crate) const REFUSED: u32 = u32::MAX;

/// What the SDK knows of a context's sampling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// Not asked yet.
    Unknown,
    /// A sampled local span: children are recorded (no need to ask).
    Sampled,
    /// Remote, missing, or anything else the host decides per span.
    Other,
    /// A local unsampled span: children are skipped in the guest.
    Skip,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    handle: u32,
    known: Known,
}

#[derive(Debug)]
struct State {
    base: Known,
    stack: Vec<Entry>,
}

thread_local! {
    static STATE: RefCell<State> = const {
        RefCell::new(State { base: Known::Unknown, stack: Vec::new() })
    };
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

impl State {
    fn top(&self) -> (u32, Known) {
        self.stack
            .last()
            .map_or((INVOCATION, self.base), |e| (e.handle, e.known))
    }
}

/// The current context's handle.
#[inline]
pub(crate) fn handle() -> u32 {
    STATE.with_borrow(|s| s.top().0)
}

/// The current context's handle and what is known of its sampling (without
/// asking the host).
#[inline]
pub(crate) fn top() -> (u32, Known) {
    STATE.with_borrow(State::top)
}

/// What `known` says of `handle`'s sampling, asking the host once when it
/// says nothing; the answer is kept on the entry of `handle` when it is
/// still the current one.
pub(crate) fn sampling(handle: u32, known: Known) -> Known {
    if known != Known::Unknown {
        return known;
    }
    let asked = ask_host(handle);
    STATE.with_borrow_mut(|s| match s.stack.last_mut() {
        Some(top) if top.handle == handle => top.known = asked,
        Some(_) => {}
        None if handle == INVOCATION => s.base = asked,
        None => {}
    });
    asked
}

/// Whether spans under the current context are skipped.
#[inline]
pub(crate) fn is_skipping() -> bool {
    STATE.with_borrow(|s| s.top().1) == Known::Skip
}

fn ask_host(handle: u32) -> Known {
    let cx = wit::span_context_of(handle);
    let valid = cx.trace_id.bytes().any(|b| b != b'0');
    match (
        valid && !cx.is_remote,
        cx.trace_flags.contains(TraceFlags::SAMPLED),
    ) {
        (true, true) => Known::Sampled,
        (true, false) => Known::Skip,
        (false, _) => Known::Other,
    }
}

/// Makes `handle` current; returns the entry's id for [`pop`].
pub(crate) fn push(handle: u32, known: Known) -> u64 {
    let id = NEXT_ID.get();
    NEXT_ID.set(id + 1);
    STATE.with_borrow_mut(|s| s.stack.push(Entry { id, handle, known }));
    id
}

/// Removes the entry `id`, wherever it is: guards may be dropped in any
/// order.
pub(crate) fn pop(id: u64) {
    STATE.with_borrow_mut(|s| {
        if let Some(pos) = s.stack.iter().rposition(|e| e.id == id) {
            s.stack.remove(pos);
        }
    });
}

/// Forgets everything: called at the start of each invocation (an
/// instance serves one, but a test harness may reuse one).
pub fn reset() {
    STATE.with_borrow_mut(|s| {
        s.base = Known::Unknown;
        s.stack.clear();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_pop_out_of_order_and_reset_forgets() {
        reset();
        assert_eq!(top(), (INVOCATION, Known::Unknown));
        let a = push(5, Known::Sampled);
        let b = push(6, Known::Skip);
        assert_eq!(top(), (6, Known::Skip));
        pop(a);
        assert_eq!(top(), (6, Known::Skip));
        pop(b);
        assert_eq!(top(), (INVOCATION, Known::Unknown));
        push(7, Known::Other);
        reset();
        assert_eq!(top(), (INVOCATION, Known::Unknown));
    }
}
