//! What the SDK knows of the current span's sampling decision, so that a
//! span in an unsampled trace costs no host call at all.
//!
//! Sampling is the host's (DESIGN.md, point 6): it decides on the invocation
//! span before the plugin runs. Under OpenTelemetry's samplers (the
//! parent-based ones, the default; `traceidratio`, which decides by trace id;
//! `always_on`/`always_off`) a child of an unsampled *local* span is never
//! sampled. So once the host has said that the current span is local and
//! unsampled, a span started under it is skipped in the guest: no start call,
//! no attributes lowered, no drop call. A remote or missing current context
//! is never trusted (a non-parent-based sampler may still sample a child of
//! a remote unsampled parent); the host decides those.
//!
//! The SDK mirrors the host's current-context stack (activated spans and
//! attached contexts) so that it knows when the current span changes: each
//! entry remembers what is known of its sampling; the host is asked at most
//! once per entry.

use std::cell::{Cell, RefCell};

use crate::wit::wasmtrace::tracing::tracing as wit_tracing;

/// What is known of a current context's sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// Not asked yet.
    Unknown,
    /// Local and sampled: spans under it are started in the host, and so
    /// are their children (a child of a sampled span is sampled).
    Sampled,
    /// Remote, or none: spans under it are started in the host, which
    /// decides.
    Other,
    /// Local and unsampled: spans under it are skipped in the guest.
    Skip,
}

/// One entry of the mirrored current-context stack.
#[derive(Debug)]
struct Entry {
    id: u64,
    known: Known,
}

#[derive(Debug)]
struct State {
    /// What is known of the invocation's context (the stack's bottom).
    base: Known,
    stack: Vec<Entry>,
}

thread_local! {
    static STATE: RefCell<State> = const {
        RefCell::new(State { base: Known::Unknown, stack: Vec::new() })
    };
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

/// What is known of the current context: asks the host the first time for
/// each current context (never `Unknown`).
pub(crate) fn current() -> Known {
    match STATE.with_borrow(State::top) {
        Known::Unknown => {
            let asked = ask_host();
            STATE.with_borrow_mut(|s| match s.stack.last_mut() {
                Some(top) => top.known = asked,
                None => s.base = asked,
            });
            asked
        }
        known => known,
    }
}

impl State {
    fn top(&self) -> Known {
        self.stack.last().map_or(self.base, |e| e.known)
    }
}

/// Whether the current span is already known to be unsampled (never asks
/// the host): then the host would ignore what is added to it.
pub(crate) fn is_skipping() -> bool {
    STATE.with_borrow(State::top) == Known::Skip
}

/// Whether the current span is local and unsampled.
fn ask_host() -> Known {
    let cx = wit_tracing::current_span_context();
    let valid = cx.trace_id.bytes().any(|b| b != b'0');
    match (valid && !cx.is_remote, cx.trace_flags & 0x01 != 0) {
        (true, true) => Known::Sampled,
        (true, false) => Known::Skip,
        (false, _) => Known::Other,
    }
}

/// Records that a span or context became current in the host; `known` is
/// what the caller knows of it (`Sampled` for a child of a sampled local
/// span, else `Unknown`). Returns the id to [`pop`] it with.
pub(crate) fn push(known: Known) -> u64 {
    let id = NEXT_ID.get();
    NEXT_ID.set(id + 1);
    STATE.with_borrow_mut(|s| s.stack.push(Entry { id, known }));
    id
}

/// Forgets an entry, wherever it is (the host removes ended spans and
/// dropped guards out of order too).
pub(crate) fn pop(id: u64) {
    STATE.with_borrow_mut(|s| {
        if let Some(pos) = s.stack.iter().rposition(|e| e.id == id) {
            s.stack.remove(pos);
        }
    });
}

/// Forgets everything: each export call may run under another parent (an
/// embedder can call one instance many times).
pub fn reset() {
    STATE.with_borrow_mut(|s| {
        s.base = Known::Unknown;
        s.stack.clear();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top() -> Known {
        STATE.with_borrow(State::top)
    }

    #[test]
    fn entries_pop_out_of_order_and_reset_forgets() {
        reset();
        let a = push(Known::Sampled);
        let b = push(Known::Skip);
        assert_eq!(top(), Known::Skip);
        pop(a);
        assert_eq!(top(), Known::Skip);
        pop(b);
        assert_eq!(top(), Known::Unknown);
        push(Known::Other);
        reset();
        assert_eq!(top(), Known::Unknown);
    }
}
