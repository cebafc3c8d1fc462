//! Counting what reached the collector: every sampled span handed to the
//! export queue is delivered, dropped from a full queue, or lost in a batch
//! the collector refused; losses are also counted per plugin, so that each
//! plugin's [`crate::TracingStats`] can say what it lost.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Spans handed to the export pipeline, and what became of them.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    ended: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    queue_dropped: AtomicU64,
    /// Spans lost (queue or export), by the plugin that made them.
    lost: Mutex<HashMap<String, u64>>,
}

impl DeliveryStats {
    /// Sampled spans that ended (and so were handed to the queue).
    pub fn ended(&self) -> u64 {
        self.ended.load(Ordering::Relaxed)
    }

    /// Spans the collector accepted.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Spans in batches the exporter failed to send.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Spans dropped because the queue was full (in spans or bytes).
    pub fn queue_dropped(&self) -> u64 {
        self.queue_dropped.load(Ordering::Relaxed)
    }

    /// Spans that ended but were not delivered: failed exports, spans
    /// dropped from a full queue, and spans still queued.
    pub fn undelivered(&self) -> u64 {
        self.ended().saturating_sub(self.delivered())
    }

    /// Spans of the plugin `name` (its instrumentation scope; `wasmtrace`
    /// for the host's own) that were dropped or failed.
    pub fn lost_by(&self, name: &str) -> u64 {
        self.lost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn count_ended(&self, n: u64) {
        self.ended.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_failed(&self, n: u64) {
        self.failed.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_queue_dropped(&self, n: u64) {
        self.queue_dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_lost(&self, owner: &str, n: u64) {
        let mut lost = self.lost.lock().unwrap_or_else(|e| e.into_inner());
        match lost.get_mut(owner) {
            Some(count) => *count += n,
            None => {
                lost.insert(owner.to_owned(), n);
            }
        }
    }
}
