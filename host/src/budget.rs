//! The budgets of one top-level invocation, shared by its whole call tree:
//! spans, log records, recorded bytes, plugin calls, fuel and the
//! wall-clock deadline.
//!
//! A call tree runs on one thread, one plugin at a time (a caller waits
//! inside its host call while its callee runs), so the budget is not shared
//! through atomics: it moves. The caller's store hands what it has left to
//! the callee's and takes back what the callee left.

use crate::limits::Limits;
use std::time::{Duration, Instant};

/// What a call tree may still use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Spans that may still be started (guest and host spans alike).
    pub(crate) spans: u32,
    /// Log records that may still be emitted.
    pub(crate) logs: u32,
    /// Bytes that may still be recorded.
    pub(crate) bytes: u64,
    /// Plugin calls that may still be made.
    pub(crate) calls: u32,
    /// When the call tree must stop, if it has a deadline.
    pub(crate) deadline: Option<Instant>,
}

impl Budget {
    /// The budget a top-level invocation starts with.
    pub(crate) fn new(limits: &Limits, timeout: Option<Duration>) -> Self {
        Self {
            spans: limits.max_spans,
            logs: limits.max_log_records,
            bytes: limits.max_recorded_bytes,
            calls: limits.max_plugin_calls,
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
        }
    }

    /// What a callee with its own `limits` and `timeout` gets: what is
    /// left, no more than the callee's own limits allow.
    pub(crate) fn for_callee(&self, limits: &Limits, timeout: Option<Duration>) -> Self {
        let own = Self::new(limits, timeout);
        Self {
            spans: self.spans.min(own.spans),
            logs: self.logs.min(own.logs),
            bytes: self.bytes.min(own.bytes),
            calls: self.calls.min(own.calls),
            deadline: match (self.deadline, own.deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// Takes back what a callee given `given` used, leaving it `left`.
    pub(crate) fn settle(&mut self, given: &Self, left: &Self) {
        self.spans -= given.spans - left.spans.min(given.spans);
        self.logs -= given.logs - left.logs.min(given.logs);
        self.bytes -= given.bytes - left.bytes.min(given.bytes);
        self.calls -= given.calls - left.calls.min(given.calls);
    }

    /// Time left before the deadline (zero once it passed).
    pub(crate) fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callee_runs_on_what_is_left_and_gives_back_the_rest() {
        let limits = Limits::default();
        let mut caller = Budget::new(&limits, None);
        caller.spans -= 100;
        let tight = Limits {
            max_spans: 50,
            ..Limits::default()
        };
        let given = caller.for_callee(&tight, Some(Duration::from_secs(1)));
        assert_eq!(given.spans, 50);
        assert!(given.deadline.is_some());
        let mut left = given.clone();
        left.spans -= 20;
        left.bytes -= 1000;
        caller.settle(&given, &left);
        assert_eq!(caller.spans, limits.max_spans - 120);
        assert_eq!(caller.bytes, limits.max_recorded_bytes - 1000);
    }
}
