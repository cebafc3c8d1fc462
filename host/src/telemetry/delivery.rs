//! Counting what reached the collector: every sampled span handed to the
//! export queue is delivered, dropped from a full queue, lost in a batch
//! the collector refused, or rejected by a collector that took the batch
//! (an OTLP partial success); losses are also counted per plugin, so that
//! each plugin's [`crate::TracingStats`] can say what it lost.

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
    rejected: AtomicU64,
    /// Spans lost (queue or export), by the plugin that made them.
    lost: Mutex<HashMap<String, u64>>,
    /// Why the last failed export failed, and why the collector last
    /// rejected spans.
    last_error: Mutex<Option<String>>,
    last_rejection: Mutex<Option<String>>,
    /// The cause of the current export's transport error, noted by the
    /// HTTP client for the export's failure to carry.
    transport_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DeliveryStats {
    /// Sampled spans that ended (and so were handed to the queue).
    pub fn ended(&self) -> u64 {
        self.ended.load(Ordering::Relaxed)
    }

    /// Spans the collector accepted (the spans of the batches it took, less
    /// those it [rejected](Self::rejected)).
    pub fn delivered(&self) -> u64 {
        self.delivered
            .load(Ordering::Relaxed)
            .saturating_sub(self.rejected())
    }

    /// Spans the collector took a batch of but rejected, as its OTLP/HTTP
    /// partial success said (not attributed to plugins: the response only
    /// counts them).
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Why the last failed export failed, with the transport's causes (for
    /// example `invalid peer certificate: UnknownIssuer`); `None` if none
    /// failed.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// What the collector said when it last rejected spans.
    pub fn last_rejection(&self) -> Option<String> {
        lock(&self.last_rejection).clone()
    }

    /// One line on why spans were not delivered, if anything says.
    pub fn reason(&self) -> Option<String> {
        match (self.last_error(), self.rejected()) {
            (Some(error), _) => Some(error),
            (None, 0) => None,
            (None, n) => Some(match self.last_rejection() {
                Some(message) if !message.is_empty() => {
                    format!("the collector rejected {n} spans: {message}")
                }
                _ => format!("the collector rejected {n} spans"),
            }),
        }
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

    /// Notes why an export failed, with the transport error the HTTP client
    /// saw during it, if any.
    pub(crate) fn note_failure(&self, error: &str) {
        let cause = lock(&self.transport_error).take();
        *lock(&self.last_error) = Some(match cause {
            Some(cause) => format!("{error} ({cause})"),
            None => error.to_owned(),
        });
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

impl super::otlp::ExportObserver for DeliveryStats {
    fn rejected(&self, items: u64, message: &str) {
        self.rejected.fetch_add(items, Ordering::Relaxed);
        *lock(&self.last_rejection) = Some(message.to_owned());
    }

    fn transport_error(&self, error: String) {
        *lock(&self.transport_error) = Some(error);
    }
}
