//! The embedded default: finished traces printed as indented trees.

use opentelemetry::Value;
use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A span exporter that prints each trace as a tree once its local root
/// (the span whose parent is remote or absent) has ended; anything left at
/// shutdown is printed as well.
pub struct ConsoleTreeExporter {
    pending: Mutex<Vec<SpanData>>,
    out: Arc<Mutex<dyn Write + Send>>,
}

impl std::fmt::Debug for ConsoleTreeExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleTreeExporter")
            .finish_non_exhaustive()
    }
}

impl ConsoleTreeExporter {
    /// Prints to standard error (standard output belongs to the plugin).
    pub fn stderr() -> Self {
        Self::new(Arc::new(Mutex::new(std::io::stderr())))
    }

    /// Prints to any writer.
    pub fn new(out: Arc<Mutex<dyn Write + Send>>) -> Self {
        Self {
            pending: Mutex::new(Vec::new()),
            out,
        }
    }

    fn print(&self, spans: &[SpanData]) {
        let text = render_traces(spans);
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }

    fn flush_all(&self) {
        let rest = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !rest.is_empty() {
            self.print(&rest);
        }
    }
}

fn is_local_root(span: &SpanData) -> bool {
    span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote
}

impl SpanExporter for ConsoleTreeExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let ready = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let finished: Vec<TraceId> = batch
                .iter()
                .filter(|s| is_local_root(s))
                .map(|s| s.span_context.trace_id())
                .collect();
            pending.extend(batch);
            let (ready, keep): (Vec<_>, Vec<_>) = pending
                .drain(..)
                .partition(|s| finished.contains(&s.span_context.trace_id()));
            *pending = keep;
            ready
        };
        if !ready.is_empty() {
            self.print(&ready);
        }
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush_all();
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.flush_all();
        Ok(())
    }
}

/// Renders spans as one tree per trace, children in start order. Iterative:
/// a trace as deep as a guest can make it renders without recursion.
pub fn render_traces(spans: &[SpanData]) -> String {
    let mut order: Vec<TraceId> = Vec::new();
    let mut traces: HashMap<TraceId, Vec<&SpanData>> = HashMap::new();
    for s in spans {
        let trace_id = s.span_context.trace_id();
        traces
            .entry(trace_id)
            .or_insert_with(|| {
                order.push(trace_id);
                Vec::new()
            })
            .push(s);
    }
    let mut out = String::new();
    for trace_id in order {
        let mut members = traces.remove(&trace_id).unwrap_or_default();
        members.sort_by_key(|s| s.start_time);
        let ids: HashSet<SpanId> = members.iter().map(|s| s.span_context.span_id()).collect();
        let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
        let mut roots = Vec::new();
        for s in &members {
            if ids.contains(&s.parent_span_id) && s.parent_span_id != s.span_context.span_id() {
                children.entry(s.parent_span_id).or_default().push(s);
            } else {
                roots.push(*s);
            }
        }
        let _ = writeln!(out, "trace {trace_id}");
        for (i, root) in roots.iter().enumerate() {
            if root.parent_span_id != SpanId::INVALID {
                let _ = writeln!(out, "  (continues parent span {})", root.parent_span_id);
            }
            render_tree(&mut out, root, &children, i + 1 == roots.len());
        }
    }
    out
}

/// Levels of indentation drawn; deeper spans are drawn at this level with
/// their depth, so that a guest's deep chain cannot make the output grow as
/// the square of its depth.
const MAX_INDENT: usize = 32;

/// Writes `root` and its descendants, depth first, with an explicit stack
/// of (span, prefix, last-among-siblings, depth).
fn render_tree(
    out: &mut String,
    root: &SpanData,
    children: &HashMap<SpanId, Vec<&SpanData>>,
    last: bool,
) {
    let mut stack: Vec<(&SpanData, String, bool, usize)> = vec![(root, String::new(), last, 0)];
    while let Some((span, prefix, last, depth)) = stack.pop() {
        let shown = if depth > MAX_INDENT {
            format!("{prefix}[{depth}] ")
        } else {
            prefix.clone()
        };
        render_span(out, span, children, &shown, last);
        if let Some(kids) = children.get(&span.span_context.span_id()) {
            let child_prefix = if depth >= MAX_INDENT {
                prefix
            } else {
                format!("{prefix}{}", if last { "   " } else { "│  " })
            };
            for (i, kid) in kids.iter().enumerate().rev() {
                stack.push((kid, child_prefix.clone(), i + 1 == kids.len(), depth + 1));
            }
        }
    }
}

/// One span's line and its events' lines.
fn render_span(
    out: &mut String,
    span: &SpanData,
    children: &HashMap<SpanId, Vec<&SpanData>>,
    prefix: &str,
    last: bool,
) {
    let branch = if last { "└─ " } else { "├─ " };
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let _ = write!(
        out,
        "{prefix}{branch}{}  {}",
        span.name,
        fmt_duration(duration)
    );
    for kv in span
        .attributes
        .iter()
        .filter(|kv| !kv.key.as_str().starts_with("wasmtrace."))
    {
        let _ = write!(out, "  {}={}", kv.key, fmt_value(&kv.value));
    }
    match &span.status {
        Status::Error { description } => {
            let _ = write!(out, "  [ERROR: {description}]");
        }
        Status::Ok => out.push_str("  [OK]"),
        Status::Unset => {}
    }
    out.push('\n');
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    let has_kids = children
        .get(&span.span_context.span_id())
        .is_some_and(|k| !k.is_empty());
    for event in span.events.iter() {
        let at = event
            .timestamp
            .duration_since(span.start_time)
            .unwrap_or_default();
        let rail = if has_kids { "│  " } else { "   " };
        let _ = write!(
            out,
            "{child_prefix}{rail}• {} +{}",
            event.name,
            fmt_duration(at)
        );
        for kv in &event.attributes {
            let value = fmt_value(&kv.value);
            let value = match value.split_once('\n') {
                Some((first, _)) => format!("{first}…"),
                None => value,
            };
            let _ = write!(out, "  {}={}", kv.key, value);
        }
        out.push('\n');
    }
}

fn fmt_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", s.as_str()),
        other => other.to_string(),
    }
}

fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0}µs")
    } else if us < 1e6 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceState};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn span(name: &str, id: u64, parent: u64, start: u64, end: u64) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(7u128),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.to_owned().into(),
            start_time: at(start),
            end_time: at(end),
            attributes: vec![
                KeyValue::new("n", 3i64),
                KeyValue::new("wasmtrace.instance.id", "x"),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        }
    }

    #[test]
    fn a_chain_deeper_than_any_stack_renders() {
        let spans: Vec<SpanData> = (1..=50_000u64)
            .map(|i| span(&format!("s{i}"), i, i - 1, i, i + 1))
            .collect();
        let text = render_traces(&spans);
        assert_eq!(text.lines().count(), 50_001);
        let last = text.lines().last().unwrap();
        assert!(last.trim_start().starts_with("[49999] └─ s50000"), "{last}");
        assert!(
            last.len() < 200,
            "indentation is capped: {} bytes",
            last.len()
        );
    }

    #[test]
    fn renders_nested_spans_in_start_order() {
        let mut failed = span("b", 3, 1, 5, 6);
        failed.status = Status::error("boom");
        let text = render_traces(&[span("a", 2, 1, 2, 3), failed, span("root", 1, 0, 0, 10)]);
        assert_eq!(
            text,
            "trace 00000000000000000000000000000007\n\
             └─ root  10.00ms  n=3\n   \
                ├─ a  1.00ms  n=3\n   \
                └─ b  1.00ms  n=3  [ERROR: boom]\n"
        );
    }
}
