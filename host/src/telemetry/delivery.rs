//! Counting what reached the collector: an exporter wrapper that tallies
//! delivered and failed spans, so that shutdown can say how many spans could
//! not be delivered (queue overflow or a collector that was down).

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Spans handed to the export pipeline, and what became of them.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    ended: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl DeliveryStats {
    /// Sampled spans that ended (and so were queued for export).
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

    /// Spans that ended but were not delivered: failed exports plus spans
    /// dropped from a full queue (or still queued).
    pub fn undelivered(&self) -> u64 {
        self.ended().saturating_sub(self.delivered())
    }
}

/// Wraps an exporter, counting delivered and failed spans.
#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    inner: E,
    stats: Arc<DeliveryStats>,
}

impl<E> CountingExporter<E> {
    pub(crate) fn new(inner: E, stats: Arc<DeliveryStats>) -> Self {
        Self { inner, stats }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.inner.export(batch).await;
        let counter = if result.is_ok() {
            &self.stats.delivered
        } else {
            &self.stats.failed
        };
        counter.fetch_add(n, Ordering::Relaxed);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Wraps the span processor, counting sampled spans as they end (before
/// a full queue can drop them). Wrapping rather than adding a processor
/// avoids a copy of every span.
#[derive(Debug)]
pub(crate) struct CountingProcessor<P> {
    pub(crate) inner: P,
    pub(crate) stats: Arc<DeliveryStats>,
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.stats.ended.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
