//! The export queue in front of a collector: a batch span processor bounded
//! in spans and in bytes, that never blocks the recording thread and
//! accounts for every span it is given: delivered, dropped from a full
//! queue, or in a batch the collector refused.
//!
//! Host spans (the invocation, server and client spans, scope `wasmtrace`)
//! have a reserve of their own, so that a plugin flooding the queue with its
//! own spans cannot push out the span that says what happened to it.
//! Losses are counted per plugin ([`DeliveryStats::lost_by`]).

use super::delivery::DeliveryStats;
use crate::guest::convert::{ATTRIBUTE_COST, EVENT_COST, LINK_COST};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_SCHEDULE_DELAY`,
/// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, and the byte bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Plugin spans queued at most (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048).
    pub max_queue_size: usize,
    /// Host spans queued at most, on top (a quarter of the queue size).
    pub host_reserve: usize,
    /// Bytes of queued spans at most (`WASMTRACE_BSP_MAX_QUEUE_BYTES`, 64 MiB).
    pub max_queue_bytes: u64,
    /// How long a span may wait for a batch (`OTEL_BSP_SCHEDULE_DELAY`, 5 s).
    pub scheduled_delay: Duration,
    /// Spans per export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, 512).
    pub max_export_batch_size: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_queue_size: 2048,
            host_reserve: 512,
            max_queue_bytes: 64 << 20,
            scheduled_delay: Duration::from_secs(5),
            max_export_batch_size: 512,
        }
    }
}

impl QueueConfig {
    /// The defaults, overridden by the standard `OTEL_BSP_*` variables (and
    /// `WASMTRACE_BSP_MAX_QUEUE_BYTES`); a value that is not a number is an
    /// error naming the variable.
    pub fn from_env() -> anyhow::Result<Self> {
        let mut config = Self::default();
        let read = |name: &str| -> anyhow::Result<Option<u64>> {
            match super::env_value(name) {
                None => Ok(None),
                Some(v) => v
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| anyhow::anyhow!("{name}={v:?} is not a whole number")),
            }
        };
        if let Some(n) = read("OTEL_BSP_MAX_QUEUE_SIZE")? {
            config.max_queue_size = n.max(1) as usize;
            config.host_reserve = (config.max_queue_size / 4).max(16);
        }
        if let Some(ms) = read("OTEL_BSP_SCHEDULE_DELAY")? {
            config.scheduled_delay = Duration::from_millis(ms);
        }
        if let Some(n) = read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            config.max_export_batch_size = (n.max(1) as usize).min(config.max_queue_size);
        }
        if let Some(n) = read("WASMTRACE_BSP_MAX_QUEUE_BYTES")? {
            config.max_queue_bytes = n;
        }
        Ok(config)
    }
}

/// See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct ExportQueue {
    shared: Arc<Shared>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The worker waits on it for spans, a flush or shutdown.
    wake: Condvar,
    /// Flushers wait on it for the worker.
    done: Condvar,
    config: QueueConfig,
    delivery: Arc<DeliveryStats>,
}

#[derive(Debug, Default)]
struct State {
    spans: VecDeque<(SpanData, u64)>,
    host: usize,
    bytes: u64,
    /// Flush requests made and served (the worker serves all made so far).
    flushes_requested: u64,
    flushes_done: u64,
    flush_result: Option<String>,
    shutdown: bool,
}

impl ExportQueue {
    /// A queue in front of `exporter`, which exports for `resource`.
    pub(crate) fn new<E: SpanExporter + 'static>(
        mut exporter: E,
        resource: &Resource,
        config: QueueConfig,
        delivery: Arc<DeliveryStats>,
    ) -> std::io::Result<Self> {
        // The exporter moves to the worker thread: it learns the resource
        // now (the provider's `set_resource` comes too late to reach it).
        exporter.set_resource(resource);
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            wake: Condvar::new(),
            done: Condvar::new(),
            config,
            delivery,
        });
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("wasmtrace-export".into())
                .spawn(move || shared.run(exporter))?
        };
        Ok(Self {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run<E: SpanExporter>(&self, exporter: E) {
        let mut state = self.lock();
        let mut deadline = Instant::now() + self.config.scheduled_delay;
        loop {
            let flushing = state.flushes_requested > state.flushes_done;
            let due = Instant::now() >= deadline;
            let full = state.spans.len() >= self.config.max_export_batch_size;
            if !(flushing || state.shutdown || due || full) {
                let wait = deadline.saturating_duration_since(Instant::now());
                state = self
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            }
            // Export what is queued, one batch at a time, without the lock.
            let requested = state.flushes_requested;
            let mut failure = None;
            while !state.spans.is_empty() {
                let n = state.spans.len().min(self.config.max_export_batch_size);
                let mut batch = Vec::with_capacity(n);
                let (mut bytes, mut host) = (0, 0);
                for (span, size) in state.spans.drain(..n) {
                    bytes += size;
                    host += usize::from(is_host_span(&span));
                    batch.push(span);
                }
                state.bytes -= bytes;
                state.host -= host;
                drop(state);
                if let Err(e) = self.export(&exporter, batch) {
                    failure = Some(self.delivery.last_error().unwrap_or_else(|| e.to_string()));
                }
                state = self.lock();
                if !(flushing || state.shutdown) {
                    // A scheduled or full batch: one at a time, new spans
                    // keep arriving.
                    break;
                }
            }
            deadline = Instant::now() + self.config.scheduled_delay;
            if flushing || state.shutdown {
                drop(state);
                let flushed = exporter.force_flush();
                state = self.lock();
                state.flush_result = failure.or_else(|| flushed.err().map(|e| e.to_string()));
                state.flushes_done = requested;
                self.done.notify_all();
                if state.shutdown && state.spans.is_empty() {
                    drop(state);
                    let _ = exporter.shutdown_with_timeout(Duration::from_secs(5));
                    let mut state = self.lock();
                    state.flushes_done = state.flushes_requested;
                    self.done.notify_all();
                    return;
                }
            }
        }
    }

    /// Exports one batch, counting it delivered or lost.
    fn export<E: SpanExporter>(&self, exporter: &E, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        // Attribute a failure per plugin, so the batch's scopes are noted
        // before the exporter takes it.
        let owners: Vec<String> = batch.iter().map(owner).collect();
        let result = futures_executor::block_on(exporter.export(batch));
        match &result {
            Ok(()) => self.delivery.count_delivered(n),
            Err(e) => {
                for owner in &owners {
                    self.delivery.count_lost(owner, 1);
                }
                self.delivery.count_failed(n);
                self.delivery.note_failure(&e.to_string());
            }
        }
        result
    }

    fn flush(&self, timeout: Duration) -> OTelSdkResult {
        let mut state = self.lock();
        state.flushes_requested += 1;
        let wanted = state.flushes_requested;
        self.wake.notify_all();
        let until = Instant::now() + timeout;
        while state.flushes_done < wanted {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(OTelSdkError::Timeout(timeout));
            }
            state = self
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        match state.flush_result.take() {
            Some(e) => Err(OTelSdkError::InternalFailure(e)),
            None => Ok(()),
        }
    }
}

impl SpanProcessor for ExportQueue {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, mut span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        super::apply_dropped_counts(&mut span);
        let shared = &self.shared;
        shared.delivery.count_ended(1);
        let bytes = span_bytes(&span);
        let host = is_host_span(&span);
        let mut state = shared.lock();
        let config = &shared.config;
        let room = if host {
            state.host < config.host_reserve
                || state.spans.len() - state.host < config.max_queue_size
        } else {
            state.spans.len() - state.host < config.max_queue_size
        };
        if state.shutdown || !room || state.bytes + bytes > config.max_queue_bytes {
            drop(state);
            shared.delivery.count_lost(&owner(&span), 1);
            shared.delivery.count_queue_dropped(1);
            return;
        }
        state.bytes += bytes;
        if host {
            state.host += 1;
        }
        state.spans.push_back((span, bytes));
        let full = state.spans.len() >= config.max_export_batch_size;
        drop(state);
        if full {
            shared.wake.notify_one();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.shared.flush(Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        {
            let mut state = self.shared.lock();
            if state.shutdown {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            state.shutdown = true;
        }
        let result = self.shared.flush(timeout);
        if let Some(worker) = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // Joined only when it finished: a collector that hangs past the
            // timeout must not hang the host's exit.
            if result.is_ok() {
                let _ = worker.join();
            }
        }
        result
    }

    fn set_resource(&mut self, _resource: &Resource) {
        // The exporter was given the resource in `ExportQueue::new`.
    }
}

/// Whether the host made this span (scope `wasmtrace`).
fn is_host_span(span: &SpanData) -> bool {
    span.instrumentation_scope.name() == "wasmtrace"
}

/// Whose span this is, for loss accounting: the plugin's name (its scope,
/// or for a host span the `wasmtrace.plugin.name` it carries), else
/// `wasmtrace`.
fn owner(span: &SpanData) -> String {
    if is_host_span(span)
        && let Some(name) = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == crate::sampling::ATTR_PLUGIN_NAME)
    {
        return name.value.as_str().into_owned();
    }
    span.instrumentation_scope.name().to_owned()
}

/// What a finished span holds in memory, as the span table charges it.
pub(crate) fn span_bytes(span: &SpanData) -> u64 {
    let attributes = |kvs: &[KeyValue]| -> u64 {
        kvs.iter()
            .map(|kv| ATTRIBUTE_COST + kv.key.as_str().len() as u64 + value_bytes(&kv.value))
            .sum()
    };
    let events: u64 = span
        .events
        .iter()
        .map(|e| EVENT_COST + e.name.len() as u64 + attributes(&e.attributes))
        .sum();
    let links: u64 = span
        .links
        .iter()
        .map(|l| LINK_COST + attributes(&l.attributes))
        .sum();
    crate::guest::SPAN_FIXED_COST
        + span.name.len() as u64
        + attributes(&span.attributes)
        + events
        + links
}

fn value_bytes(value: &Value) -> u64 {
    use opentelemetry::Array;
    match value {
        Value::String(s) => s.as_str().len() as u64,
        Value::Array(Array::String(v)) => v
            .iter()
            .map(|s| (size_of::<opentelemetry::StringValue>() + s.as_str().len()) as u64)
            .sum(),
        Value::Array(Array::Bool(v)) => v.len() as u64,
        Value::Array(Array::I64(v)) => 8 * v.len() as u64,
        Value::Array(Array::F64(v)) => 8 * v.len() as u64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn span(scope: &'static str, id: u64, value_len: usize) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(1u128),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "s".into(),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: vec![KeyValue::new("v", "x".repeat(value_len))],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder(scope).build(),
        }
    }

    fn queue(config: QueueConfig) -> (ExportQueue, InMemorySpanExporter, Arc<DeliveryStats>) {
        let exporter = InMemorySpanExporter::default();
        let delivery = Arc::new(DeliveryStats::default());
        let queue = ExportQueue::new(
            exporter.clone(),
            &Resource::builder().build(),
            config,
            delivery.clone(),
        )
        .unwrap();
        (queue, exporter, delivery)
    }

    #[test]
    fn bounds_plugin_spans_by_count_and_keeps_room_for_host_spans() {
        let config = QueueConfig {
            max_queue_size: 4,
            host_reserve: 2,
            scheduled_delay: Duration::from_secs(3600),
            max_export_batch_size: 100,
            ..QueueConfig::default()
        };
        let (queue, exporter, delivery) = queue(config);
        for id in 1..=10 {
            queue.on_end(span("flood", id, 1));
        }
        queue.on_end(span("wasmtrace", 99, 1));
        queue.force_flush().unwrap();
        let got = exporter.get_finished_spans().unwrap();
        assert_eq!(got.len(), 5, "4 plugin spans and the host span");
        assert!(
            got.iter()
                .any(|s| s.instrumentation_scope.name() == "wasmtrace")
        );
        assert_eq!(delivery.lost_by("flood"), 6);
        assert_eq!(delivery.ended(), 11);
        assert_eq!(delivery.delivered(), 5);
        assert_eq!(delivery.undelivered(), 6);
        queue.shutdown().unwrap();
        assert!(queue.shutdown().is_err(), "a second shutdown is an error");
    }

    #[test]
    fn bounds_spans_by_bytes() {
        let one = span_bytes(&span("big", 1, 1000));
        let config = QueueConfig {
            max_queue_bytes: 3 * one,
            scheduled_delay: Duration::from_secs(3600),
            ..QueueConfig::default()
        };
        let (queue, exporter, delivery) = queue(config);
        for id in 1..=5 {
            queue.on_end(span("big", id, 1000));
        }
        queue.force_flush().unwrap();
        assert_eq!(exporter.get_finished_spans().unwrap().len(), 3);
        assert_eq!(delivery.lost_by("big"), 2);
    }
}
