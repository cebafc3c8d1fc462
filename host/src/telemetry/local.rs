//! The in-process sinks (the console, the OTLP/JSON file and the HTML
//! page): a span processor and a log processor that never drop. Spans and
//! log records go to one writer thread, in the order they ended or were
//! emitted, through a bounded channel; when the writer falls behind,
//! recording waits for it rather than losing anything (a local file or
//! terminal is fast; a collector that is down is what the
//! [`ExportQueue`](super::queue) is for).

use super::pending::LogData;
use super::{ConsoleExporter, HtmlFileExporter, OtlpJsonFileExporter};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
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

    fn export_logs(&self, logs: Vec<LogData>) -> OTelSdkResult {
        match self {
            Self::Console(e) => {
                e.export_logs(logs);
                Ok(())
            }
            Self::Json(e) => e.export_logs(logs),
            Self::Html(e) => e.export_logs(logs),
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
    Log(Box<LogData>),
    Flush(SyncSender<OTelSdkResult>),
}

/// See the [module documentation](self). Clones share the writer: one is
/// the tracer provider's span processor, another ([`LocalSinks::logs`]) the
/// logger provider's log processor.
#[derive(Clone, Debug)]
pub(crate) struct LocalSinks {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
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
            inner: Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                worker: Mutex::new(Some(worker)),
            }),
        })
    }

    /// The log processor writing to the same sinks.
    pub(crate) fn logs(&self) -> LocalLogs {
        LocalLogs(self.clone())
    }

    fn sender(&self) -> Option<SyncSender<Message>> {
        self.inner
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends `message` to the writer, waiting when it is behind.
    fn send(&self, message: Message) {
        let Some(tx) = self.sender() else { return };
        match tx.try_send(message) {
            Ok(()) => {}
            // The writer is behind: wait for it rather than lose the data.
            Err(TrySendError::Full(message)) => {
                let _ = tx.send(message);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    fn flush(&self) -> OTelSdkResult {
        let Some(tx) = self.sender() else {
            return Err(OTelSdkError::AlreadyShutdown);
        };
        let (ack, done) = sync_channel(1);
        tx.send(Message::Flush(ack))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        done.recv_timeout(Duration::from_secs(60))
            .map_err(|_| OTelSdkError::Timeout(Duration::from_secs(60)))?
    }
}

/// The log side of [`LocalSinks`]: its shutdown only flushes (the span side
/// closes the writer, after the logger provider has shut down).
#[derive(Debug)]
pub(crate) struct LocalLogs(LocalSinks);

impl LogProcessor for LocalLogs {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.0
            .send(Message::Log(Box::new((record.clone(), scope.clone()))));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.flush()
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.0.flush()
    }
}

fn write(rx: Receiver<Message>, sinks: Vec<LocalSink>) {
    let mut batch = Vec::new();
    let mut logs: Vec<LogData> = Vec::new();
    // Spans and log records keep their order: a batch of one kind is
    // written before anything of the other kind that came after it.
    let export_logs = |logs: &mut Vec<LogData>| -> OTelSdkResult {
        let mut result = Ok(());
        if logs.is_empty() {
            return result;
        }
        let logs = std::mem::take(logs);
        for sink in &sinks {
            if let Err(e) = sink.export_logs(logs.clone()) {
                result = Err(e);
            }
        }
        result
    };
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
                    if let Err(e) = export_logs(&mut logs) {
                        eprintln!("wasmtrace: writing log records: {e}");
                    }
                    batch.push(*span);
                    if batch.len() < BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                Message::Log(log) => {
                    if let Err(e) = export(&mut batch) {
                        eprintln!("wasmtrace: writing spans: {e}");
                    }
                    logs.push(*log);
                    if logs.len() < BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                Message::Flush(ack) => {
                    let mut result = export_logs(&mut logs).and(export(&mut batch));
                    for sink in &sinks {
                        if let Err(e) = sink.flush() {
                            result = Err(e);
                        }
                    }
                    let _ = ack.send(result);
                }
            }
        }
        if let Err(e) = export_logs(&mut logs) {
            eprintln!("wasmtrace: writing log records: {e}");
        }
        if let Err(e) = export(&mut batch) {
            eprintln!("wasmtrace: writing spans: {e}");
        }
    }
    let _ = export_logs(&mut logs);
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
        self.send(Message::Span(Box::new(span)));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let flushed = self.flush();
        if self
            .inner
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_none()
        {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if let Some(worker) = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = timeout;
            let _ = worker.join();
        }
        flushed
    }

    fn set_resource(&mut self, _resource: &Resource) {
        // Given to the sinks in `LocalSinks::new`.
    }
}
