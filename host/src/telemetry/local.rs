//! The in-process sinks (the console, the OTLP/JSON file and the HTML page): a span
//! processor that never drops. Spans go to a writer thread through a
//! bounded channel; when the writer falls behind, recording waits for it
//! rather than losing spans (a local file or terminal is fast; a collector
//! that is down is what the [`ExportQueue`](super::queue) is for).

use super::{ConsoleExporter, HtmlFileExporter, OtlpJsonFileExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// Spans in flight to the writer before recording waits.
const CAPACITY: usize = 8_192;
/// Spans the writer hands an exporter at once.
const BATCH: usize = 1_024;

/// A local sink.
#[derive(Debug)]
pub(crate) enum LocalSink {
    Console(ConsoleExporter),
    Json(OtlpJsonFileExporter),
    Html(HtmlFileExporter),
}

impl LocalSink {
    fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            Self::Console(e) => futures_executor::block_on(e.export(batch)),
            Self::Json(e) => futures_executor::block_on(e.export(batch)),
            Self::Html(e) => futures_executor::block_on(e.export(batch)),
        }
    }

    fn flush(&self) -> OTelSdkResult {
        match self {
            Self::Console(e) => e.force_flush(),
            Self::Json(e) => e.force_flush(),
            Self::Html(e) => e.force_flush(),
        }
    }

    fn shutdown(&self) -> OTelSdkResult {
        match self {
            Self::Console(e) => e.shutdown_with_timeout(Duration::from_secs(5)),
            Self::Json(e) => e.shutdown_with_timeout(Duration::from_secs(5)),
            Self::Html(e) => e.shutdown_with_timeout(Duration::from_secs(5)),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            Self::Console(e) => e.set_resource(resource),
            Self::Json(e) => e.set_resource(resource),
            Self::Html(e) => e.set_resource(resource),
        }
    }
}

enum Message {
    Span(Box<SpanData>),
    Flush(SyncSender<OTelSdkResult>),
}

/// See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct LocalSinks {
    tx: Mutex<Option<SyncSender<Message>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl LocalSinks {
    /// Writes every span to each of `sinks`, which export for `resource`.
    pub(crate) fn new(mut sinks: Vec<LocalSink>, resource: &Resource) -> std::io::Result<Self> {
        for sink in &mut sinks {
            sink.set_resource(resource);
        }
        let (tx, rx) = sync_channel(CAPACITY);
        let worker = std::thread::Builder::new()
            .name("wasmtrace-local-sinks".into())
            .spawn(move || write(rx, sinks))?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
        })
    }

    fn sender(&self) -> Option<SyncSender<Message>> {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn write(rx: Receiver<Message>, sinks: Vec<LocalSink>) {
    let mut batch = Vec::new();
    let export = |batch: &mut Vec<SpanData>| -> OTelSdkResult {
        let mut result = Ok(());
        if batch.is_empty() {
            return result;
        }
        let mut spans = Some(std::mem::take(batch));
        let last = sinks.len().saturating_sub(1);
        for (i, sink) in sinks.iter().enumerate() {
            // Only a second sink costs a copy.
            let these = if i == last {
                spans.take().unwrap_or_default()
            } else {
                spans.clone().unwrap_or_default()
            };
            if let Err(e) = sink.export(these) {
                result = Err(e);
            }
        }
        result
    };
    while let Ok(message) = rx.recv() {
        let mut next = Some(message);
        while let Some(message) = next.take() {
            match message {
                Message::Span(span) => {
                    batch.push(*span);
                    if batch.len() < BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                Message::Flush(ack) => {
                    let mut result = export(&mut batch);
                    for sink in &sinks {
                        if let Err(e) = sink.flush() {
                            result = Err(e);
                        }
                    }
                    let _ = ack.send(result);
                }
            }
        }
        if let Err(e) = export(&mut batch) {
            eprintln!("wasmtrace: writing spans: {e}");
        }
    }
    let _ = export(&mut batch);
    for sink in &sinks {
        let _ = sink.shutdown();
    }
}

impl SpanProcessor for LocalSinks {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, mut span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        super::apply_dropped_counts(&mut span);
        let Some(tx) = self.sender() else { return };
        match tx.try_send(Message::Span(Box::new(span))) {
            Ok(()) => {}
            // The writer is behind: wait for it rather than lose the span.
            Err(TrySendError::Full(message)) => {
                let _ = tx.send(message);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        let Some(tx) = self.sender() else {
            return Err(OTelSdkError::AlreadyShutdown);
        };
        let (ack, done) = sync_channel(1);
        tx.send(Message::Flush(ack))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        done.recv_timeout(Duration::from_secs(60))
            .map_err(|_| OTelSdkError::Timeout(Duration::from_secs(60)))?
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let flushed = self.force_flush();
        if self
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_none()
        {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if let Some(worker) = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = timeout;
            let _ = worker.join();
        }
        flushed
    }

    fn set_resource(&mut self, _resource: &Resource) {
        // Given to the sinks in `LocalSinks::new`.
    }
}
