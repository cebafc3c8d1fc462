//! The embedded default: each finished trace printed on standard error, as
//! a [waterfall](crate::view::render_waterfall) (the default) or a
//! [tree](crate::view::render_tree).

use super::pending::{LogData, PendingTraces, Ready};
use crate::view::{Terminal, TextFormat};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A span exporter that prints each trace once its local root (the span
/// whose parent is remote or absent) has ended; anything left at a flush or
/// shutdown is printed as well.
pub struct ConsoleExporter {
    pending: Mutex<PendingTraces>,
    out: Arc<Mutex<dyn Write + Send>>,
    format: TextFormat,
    terminal: Terminal,
    resource: Resource,
}

impl std::fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleExporter")
            .field("format", &self.format)
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

impl ConsoleExporter {
    /// Prints to standard error (standard output belongs to the plugin),
    /// fitted to its width and coloured if it is a terminal
    /// ([`Terminal::stderr`]).
    pub fn stderr(format: TextFormat) -> Self {
        Self::new(
            Arc::new(Mutex::new(std::io::stderr())),
            format,
            Terminal::stderr(),
        )
    }

    /// Prints to any writer, as `format` for `terminal`.
    pub fn new(out: Arc<Mutex<dyn Write + Send>>, format: TextFormat, terminal: Terminal) -> Self {
        Self {
            pending: Mutex::new(PendingTraces::default()),
            out,
            format,
            terminal,
            resource: Resource::builder_empty().build(),
        }
    }

    fn print(&self, ready: Ready) {
        if ready.is_empty() {
            return;
        }
        let set = ready.into_trace_set(&self.resource);
        let text = self.format.render(&set, &self.terminal);
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, PendingTraces> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes log records: drawn with their trace once it is whole, or at
    /// once when they belong to none.
    pub(crate) fn export_logs(&self, logs: Vec<LogData>) {
        let ready = self.pending().add_logs(logs);
        self.print(ready);
    }
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let ready = self.pending().add(batch);
        self.print(ready);
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        let rest = self.pending().take_all();
        self.print(rest);
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn span(name: &str, trace: u128, id: u64, parent: u64, start_ms: u64) -> SpanData {
        let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.to_owned().into(),
            start_time: at(start_ms),
            end_time: at(start_ms + 1),
            attributes: vec![KeyValue::new("n", 3i64)],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        }
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    #[test]
    fn a_trace_is_printed_when_its_root_ends_and_the_rest_at_shutdown() {
        let out = Captured::default();
        let exporter = ConsoleExporter::new(
            Arc::new(Mutex::new(out.clone())),
            TextFormat::Tree,
            Terminal {
                width: 80,
                color: false,
            },
        );
        futures_executor::block_on(
            exporter.export(vec![span("child", 1, 2, 1, 0), span("other", 2, 5, 4, 0)]),
        )
        .unwrap();
        assert_eq!(out.text(), "", "no root has ended");
        futures_executor::block_on(exporter.export(vec![span("root", 1, 1, 0, 0)])).unwrap();
        assert_eq!(
            out.text(),
            "trace 00000000000000000000000000000001\n└─ root  1.00ms  n=3\n   └─ child  1.00ms  n=3\n"
        );
        exporter
            .shutdown_with_timeout(Duration::from_secs(1))
            .unwrap();
        assert_eq!(
            out.text(),
            "trace 00000000000000000000000000000002\n  (continues parent span 0000000000000004)\n└─ other  1.00ms  n=3\n"
        );
    }

    #[test]
    fn the_waterfall_is_fitted_to_the_terminal() {
        let out = Captured::default();
        let exporter = ConsoleExporter::new(
            Arc::new(Mutex::new(out.clone())),
            TextFormat::Waterfall,
            Terminal {
                width: 60,
                color: false,
            },
        );
        futures_executor::block_on(
            exporter.export(vec![span("child", 1, 2, 1, 0), span("root", 1, 1, 0, 0)]),
        )
        .unwrap();
        let text = out.text();
        assert!(text.contains("└─ child"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
    }
}
